"""kill -9 rounds aimed at load: while many tasks are open, each round waits until some worker has tasks
waiting on it, then kills it in the middle of that work and restarts it after a short pause; every few rounds
the gateway goes too.

Unlike `kill_schedule`'s clock, the target is read off the topics (`waiting_on`), so a kill cannot land after
a burst has drained: the rounds end once fewer than `open_at_least` tasks are open, or when no worker is busy
enough within `give_up_s`, and the moments recorded show how much was in flight at each kill. The delays are
seeded; where the work stands when the signal lands is not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tests.e2e.conftest import WORKERS
from tests.faults.deployment import GATEWAY, START_TIMEOUT_S, Deployment
from tests.faults.kill_schedule import KillLog

__all__ = ["BusyKills", "KillMoment", "busiest", "kill_when_busy"]

Waiting = Callable[[], Counter[str]]  # unfinished tasks waiting on each worker, now


@dataclass(frozen=True)
class KillMoment:
    service: str
    at_s: float  # since the rounds began
    waiting: dict[str, int]  # unfinished tasks waiting on each worker as the signal was sent
    open_llm_calls: dict[str, int]  # calls the scripted LLM was answering, by model

    @property
    def unfinished(self) -> int:
        return sum(self.waiting.values())


@dataclass
class BusyKills:
    log: KillLog = field(default_factory=KillLog)
    moments: list[KillMoment] = field(default_factory=list)
    ended_by: str = "rounds spent"


def busiest(
    waiting: Mapping[str, int], kills: Mapping[str, int], at_least: int, last: str | None = None
) -> str | None:
    """The worker to kill: of those with `at_least` tasks waiting, the one killed least, then the busiest.

    Never `last` (the worker killed last) again: just restarted, it has not yet worked through what waits on it,
    and killing it over and over would hold the whole burst at its stage.
    """
    ready = [w for w in WORKERS if w != last and waiting.get(w, 0) >= at_least]
    return min(ready, key=lambda w: (kills.get(w, 0), -waiting.get(w, 0)), default=None)


async def kill_when_busy(
    target: Deployment,
    waiting: Waiting,
    *,
    seed: int,
    rounds: int,
    open_at_least: int,
    at_least: int,
    gateway_every: int = 3,
    delay_s: tuple[float, float] = (1.0, 4.0),
    pause_s: tuple[float, float] = (0.2, 3.0),
    give_up_s: float = 180,
) -> BusyKills:
    """Up to `rounds` worker kills while `open_at_least` tasks are open, each once a worker has `at_least`
    tasks waiting on it, then `delay_s` more so the signal lands mid-work; the gateway after every
    `gateway_every` of them."""
    rng = random.Random(seed)
    done = BusyKills()
    began = time.monotonic()
    last: str | None = None
    for round_ in range(1, rounds + 1):
        worker = await _until_busy(waiting, done.log.kills, open_at_least, at_least, last, give_up_s)
        if worker is None:
            done.ended_by = f"fewer than {open_at_least} tasks open, or no worker busy for {give_up_s} s"
            return done
        last = worker
        await _kill(target, worker, rng, delay_s, pause_s, waiting, began, done)
        if round_ % gateway_every == 0 and sum(waiting().values()) >= open_at_least:
            await _kill(target, GATEWAY, rng, delay_s, pause_s, waiting, began, done)
    return done


async def _until_busy(
    waiting: Waiting,
    kills: Mapping[str, int],
    open_at_least: int,
    at_least: int,
    last: str | None,
    give_up_s: float,
) -> str | None:
    deadline = time.monotonic() + give_up_s
    while time.monotonic() < deadline and sum((now := waiting()).values()) >= open_at_least:
        if (worker := busiest(now, kills, at_least, last)) is not None:
            return worker
        await asyncio.sleep(0.2)
    return None


async def _kill(
    target: Deployment,
    service: str,
    rng: random.Random,
    delay_s: tuple[float, float],
    pause_s: tuple[float, float],
    waiting: Waiting,
    began: float,
    done: BusyKills,
) -> None:
    await asyncio.sleep(rng.uniform(*delay_s))
    process = target.replicas[service][0]
    down = time.monotonic()
    now, llm = dict(waiting()), dict(target.llm.open_calls)
    process.kill9()
    done.moments.append(KillMoment(service, round(down - began, 1), now, llm))
    done.log.kills[service] += 1
    print(f"kill -9 {service} at {down - began:.1f} s: waiting {now}, LLM calls open {llm}", flush=True)
    await asyncio.sleep(rng.uniform(*pause_s))
    await asyncio.to_thread(process.start, START_TIMEOUT_S)  # returns once the service is ready again
    done.log.down_s += time.monotonic() - down
