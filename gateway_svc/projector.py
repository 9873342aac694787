"""The projection: events -> each task's state and log in the store."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from gateway_svc.projection import ProjectedEvent, TracedEvent, fold, log_entry
from gateway_svc.projection_store import TaskWriter
from gateway_svc.task_state import LogEntry, TaskState
from schemas import utc_now
from troupe.logs import get_logger
from troupe.metrics import record_event_refused

__all__ = ["Projector", "TaskScope", "WriteConflict"]

logger = get_logger(__name__)

TaskScope = Callable[[Sequence[TracedEvent]], AbstractContextManager[None]]


def _no_scope(events: Sequence[TracedEvent]) -> AbstractContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class _EventLog:
    """A task's event log as far as it was read: its events, and how many slots held them."""

    events: list[TracedEvent]
    slots: int


class _Unwritten:
    """A state not folded and written yet."""


_UNWRITTEN = _Unwritten()


class WriteConflict(RuntimeError):
    """The task's events kept changing while it was being recomputed; the message is read again later."""


class Projector:
    """Append a task's new events to its event log, recompute the task from the whole log, store it, and
    check that nothing was appended meanwhile (else recompute).

    Not a compare-and-set on the task: FerretDB's SQLite backend makes no single update atomic (concurrent
    `$inc`s or conditional replaces on one document lose writes), and it answers only `_id` lookups without
    scanning a whole collection. So a task's log is a run of numbered slots, each inserted once under its
    own `_id` (an insert on a taken `_id` fails, on every server) and holding the events of one append (a
    task's events in one batch: about 2 a slot under load), and every read is an `_id` lookup. A
    writer that checks the next slot after writing converges: the last write is always followed by a check
    that saw every event it folded, so two replicas projecting one task never lose an event.

    The slots a replica has seen are kept in memory for at most `remembered` tasks: a task's events all
    travel on one partition number, so one replica usually projects each task, and appending then costs one
    insert and one write (each shared by the batch's tasks) and one lookup. Ended tasks are the first forgotten: remembering every task made the
    gateway grow by about 115 KiB per task in the soak (docs/reliability.md), and a running task's next event
    is surer to come than an ended one's late event (which then reads the task back).
    """

    def __init__(
        self,
        store: TaskWriter,
        clock: Callable[[], datetime] = utc_now,
        attempts: int = 20,
        remembered: int = 256,
    ) -> None:
        self._store = store
        self._clock = clock
        self._attempts = attempts
        self._remembered = remembered
        self._logs: OrderedDict[str, _EventLog] = OrderedDict()

    async def apply(self, event: ProjectedEvent, trace_id: str | None = None) -> TaskState | None:
        """Project one event; returns the new state, or None when it changed nothing (a duplicate)."""
        if event.task_id is None:
            return None
        states = await self.apply_many([(event, trace_id)])
        return states[0] if states else None

    async def apply_many(
        self, events: Sequence[TracedEvent], concurrency: int = 8, scope: TaskScope = _no_scope
    ) -> list[TaskState]:
        """Project a batch: each task's events together (one slot and one write per task, however many
        events it has in the batch). The new slots of every task this replica remembers, or that has nothing
        stored, go in one round trip, and their states in another; then each task checks that nothing was
        appended meanwhile, up to `concurrency` tasks at a time, each inside `scope(its events)` (the
        caller's span, say). A task whose slot was taken, or that this replica does not remember, goes on
        alone. Returns the states it changed. Not more at once: the store takes one writer at a time (SQLite
        behind FerretDB), and writers beyond a few only wait for each other.

        A failure cancels the rest and the first one is raised; projecting the batch again is safe, as every
        event is kept once per task whoever writes it."""
        by_task: dict[str, list[TracedEvent]] = {}
        for traced in events:
            if traced[0].task_id is not None:
                by_task.setdefault(traced[0].task_id, []).append(traced)
        written = await self._write_together(by_task)
        gate = asyncio.Semaphore(concurrency)

        async def one(task_id: str, batch: list[TracedEvent]) -> TaskState | None:
            async with gate:
                with scope(batch):
                    if task_id in written:
                        return await self._settle(task_id, *written[task_id])
                    return await self._apply_task(task_id, batch)

        try:
            async with asyncio.TaskGroup() as group:
                running = [group.create_task(one(task_id, batch)) for task_id, batch in by_task.items()]
        except* Exception as failed:
            raise failed.exceptions[0] from None  # the batch is retried whole, so one reason is enough
        return [state for done in running if (state := done.result()) is not None]

    async def _write_together(
        self, by_task: dict[str, list[TracedEvent]]
    ) -> dict[str, tuple[_EventLog, list[TracedEvent], TaskState | None]]:
        """Append each task's fresh events as the next slot of the log this replica holds for it (an empty
        one for a task it does not remember: its first slot is free unless something is stored), all in one
        call, then store the states of the tasks appended, in one call. Returns, per task appended, its log,
        its fresh events and the state stored (None: the log folds to no task yet, nothing stored)."""
        slots = []
        for task_id, batch in by_task.items():
            log = self._logs.get(task_id) or _EventLog([], 0)
            if fresh := _unseen(log.events, batch):
                slots.append((task_id, log, fresh))
        if not slots:
            return {}
        free = await self._store.append_many([(task_id, log.slots, fresh) for task_id, log, fresh in slots])
        written: dict[str, tuple[_EventLog, list[TracedEvent], TaskState | None]] = {}
        for (task_id, log, fresh), appended in zip(slots, free, strict=True):
            if appended:
                grown = _EventLog([*log.events, *fresh], log.slots + 1)
                written[task_id] = (grown, fresh, fold(grown.events, now=self._clock()))
        await self._store.put_many(
            [(state, _log_of(log.events, state)) for log, _, state in written.values() if state is not None]
        )
        return written

    async def _apply_task(self, task_id: str, batch: list[TracedEvent]) -> TaskState | None:
        log, behind = self._logs.get(task_id), False
        if log is None:
            if (recalled := await self._recall(task_id, batch)) is None:
                return None
            log, behind = recalled
        fresh = _unseen(log.events, batch)
        if fresh:
            log = await self._append(task_id, log, fresh)
        elif not behind:
            return None
        return await self._settle(task_id, log, fresh, _UNWRITTEN)

    async def _settle(
        self,
        task_id: str,
        log: _EventLog,
        fresh: list[TracedEvent],
        stored: TaskState | _Unwritten | None,
    ) -> TaskState | None:
        """Check that nothing was appended after `log` since the state folded from it (`stored`) was
        written, else fold, write and check again; `stored` is None when the log folds to no task, and
        `_UNWRITTEN` when it is not written yet."""
        for _ in range(self._attempts):
            if isinstance(stored, _Unwritten):
                stored = fold(log.events, now=self._clock())
                if stored is not None:
                    await self._store.put(stored, _log_of(log.events, stored))
            if stored is None:
                self._remember(task_id, log, None)
                return None
            seen = log.slots
            log = await self._read_on(task_id, log)
            if log.slots == seen:
                self._remember(task_id, log, stored)
                _report_flags(stored, fresh)
                return stored
            stored = _UNWRITTEN
        self._logs.pop(task_id, None)
        raise WriteConflict(f"task {task_id}: its events kept changing over {self._attempts} attempts")

    async def _recall(self, task_id: str, batch: list[TracedEvent]) -> tuple[_EventLog, bool] | None:
        """The stored log of a task this replica does not remember, and whether the stored state lacks some
        of its events (a failure between appending them and writing the state); None when the state holds
        every event of `batch` already. A task with nothing stored costs one lookup."""
        first = await self._store.slot(task_id, 0)
        if first is None:
            return _EventLog([], 0), False
        current = await self._store.load(task_id)  # what it holds, without reading every slot
        if current is not None and all(e[0].event_id in current.applied_events for e in batch):
            return None
        log = await self._read_on(task_id, _EventLog(first, 1))
        held = set(current.applied_events) if current is not None else set()
        return log, any(event.event_id not in held for event, _ in log.events)

    async def _append(self, task_id: str, log: _EventLog, fresh: list[TracedEvent]) -> _EventLog:
        """`log` with `fresh` appended as one slot at the end of the stored log, less what the log holds
        already (a redelivery after a crash, or another replica was first)."""
        while fresh:
            if await self._store.append(task_id, log.slots, fresh):
                return _EventLog([*log.events, *fresh], log.slots + 1)
            log = await self._read_on(task_id, log)
            fresh = _unseen(log.events, fresh)
        return log

    async def _read_on(self, task_id: str, log: _EventLog) -> _EventLog:
        """`log` followed by every slot stored after it."""
        events, slots = list(log.events), log.slots
        while (found := await self._store.slot(task_id, slots)) is not None:
            events.extend(found)
            slots += 1
        return _EventLog(events, slots)

    @property
    def remembered_tasks(self) -> int:
        return len(self._logs)

    def _remember(self, task_id: str, log: _EventLog, state: TaskState | None) -> None:
        self._logs[task_id] = log
        # An ended task goes to the front of the line to be forgotten: it is kept only while there is room,
        # for the events that reach the projection after its end (it reads the topics in no set order).
        self._logs.move_to_end(task_id, last=not (state is not None and state.terminal))
        while len(self._logs) > self._remembered:
            self._logs.popitem(last=False)


def _report_flags(state: TaskState, fresh: list[TracedEvent]) -> None:
    """Log and count the events of `fresh` the projection ignored: they came from a writer on Kafka."""
    ids = {event.event_id for event, _ in fresh}
    for flag in state.flags:
        if flag.event_id in ids:
            logger.warning(
                "event.refused",
                consumer="projection",
                type=flag.type,
                event_id=flag.event_id,
                task_id=state.task_id,
                reason=flag.reason,
            )
            record_event_refused("projection", flag.type)


def _unseen(known: list[TracedEvent], batch: list[TracedEvent]) -> list[TracedEvent]:
    """The events of `batch` that `known` does not hold, each once, in batch order."""
    ids = {event.event_id for event, _ in known}
    fresh = []
    for traced in batch:
        if traced[0].event_id not in ids:
            ids.add(traced[0].event_id)
            fresh.append(traced)
    return fresh


def _log_of(known: list[TracedEvent], state: TaskState) -> list[LogEntry]:
    flags = {flag.event_id: flag for flag in state.flags}
    entries = {
        e.event_id: e.model_copy(update={"tenant": state.tenant})
        for event, _ in known
        if (e := log_entry(event, flags.get(event.event_id))) is not None
    }
    return sorted(entries.values(), key=lambda e: (e.time, e.event_id))
