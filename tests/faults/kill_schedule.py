"""A seeded random schedule of kill -9s, one service at a time, each restarted after a short pause; and the
loop that carries it out against a deployment while tasks flow.

The schedule is drawn up front from the seed, so a run that finds a problem can be replayed kill for kill
(`TROUPE_FAULTS_SEED`); only where in its work each process is when the signal lands differs between runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tests.faults.deployment import START_TIMEOUT_S, Deployment

__all__ = ["Kill", "KillLog", "carry_out", "kill_schedule"]


@dataclass(frozen=True)
class Kill:
    after_s: float  # wait after the previous restart (or the start) before this kill
    service: str
    pause_s: float  # down time before the restart


@dataclass
class KillLog:
    kills: Counter[str] = field(default_factory=Counter)
    down_s: float = 0.0  # total time a service was down, restart included


def kill_schedule(
    seed: int,
    rounds: int,
    services: Sequence[str],
    gap_s: tuple[float, float] = (0.5, 4.0),
    pause_s: tuple[float, float] = (0.2, 3.0),
) -> list[Kill]:
    """`rounds` kills; every service comes up once per len(services) rounds, in a shuffled order."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < rounds:
        block = list(services)
        rng.shuffle(block)
        order.extend(block)
    return [Kill(rng.uniform(*gap_s), service, rng.uniform(*pause_s)) for service in order[:rounds]]


async def carry_out(
    schedule: Sequence[Kill], target: Deployment, log: KillLog, keep_going: Callable[[], bool] = lambda: True
) -> None:
    """Kill and restart as scheduled (replica 1 of each service), stopping early once `keep_going` says no."""
    for kill in schedule:
        await asyncio.sleep(kill.after_s)
        if not keep_going():
            return
        process = target.replicas[kill.service][0]
        down = time.monotonic()
        process.kill9()
        log.kills[kill.service] += 1
        await asyncio.sleep(kill.pause_s)
        await asyncio.to_thread(process.start, START_TIMEOUT_S)  # returns once the service is ready again
        log.down_s += time.monotonic() - down
