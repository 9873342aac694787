"""Which failures are an outage to wait out, and which are a message's own fault.

A handler that fails because Kafka or MongoDB is unreachable would fail the same way for every message, and
succeed for all of them once the server is back: dead-lettering such messages after a few quick retries
(as the permanent-failure rule does) would strand perfectly good tasks during a 30 s restart. So these are
retried without limit, with a capped backoff, while everything else keeps max-attempts-then-dead-letter.

Transient (an infrastructure outage; trying again later can succeed):
- PyMongo: `ConnectionFailure` and its subclasses (`AutoReconnect`, `NetworkTimeout`,
  `ServerSelectionTimeoutError`, `NotPrimaryError`, `WaitQueueTimeoutError`); any error that says it is a
  timeout (`ExecutionTimeout`, `WTimeoutError`, client-side operation timeouts); server errors with a code
  or label that MongoDB itself documents as retryable (shutting down, not primary, network, write concern
  not satisfiable yet).
- aiokafka: every error it marks `retriable` (`KafkaConnectionError`, `RequestTimedOutError`,
  `NotLeaderForPartitionError`, `LeaderNotAvailableError`, `NodeNotReadyError`, coordinator changes, ...),
  plus `KafkaTimeoutError` (a send the producer could not deliver in time: the broker was away).
- An exception raised while handling one of those (`raise ... from exc`, or `asyncio.TimeoutError` around
  such a call): the chain of causes is followed.

Permanent: everything else (bad data, a bug, a refused write). Those are retried a few times, then
dead-lettered, so one bad message never blocks its partition for long.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

__all__ = ["MONGODB_RETRYABLE_CODES", "brief", "is_transient"]

# Server error codes after which the same command can succeed later (the MongoDB drivers' retryable-reads
# and retryable-writes specs, plus the write-concern ones a restarting server answers).
MONGODB_RETRYABLE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        64,  # WriteConcernFailed
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        100,  # UnsatisfiableWriteConcern
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
_MONGODB_RETRYABLE_LABELS = ("RetryableWriteError", "TransientTransactionError")
_MAX_CHAIN = 16


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, is an infrastructure outage (module docstring)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        if _transient_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        return exc.retriable or isinstance(exc, KafkaTimeoutError)
    if isinstance(exc, ConnectionFailure):
        return True
    if isinstance(exc, PyMongoError):
        if exc.timeout or any(exc.has_error_label(label) for label in _MONGODB_RETRYABLE_LABELS):
            return True
        return isinstance(exc, OperationFailure) and exc.code in MONGODB_RETRYABLE_CODES
    return False


def brief(exc: BaseException, limit: int = 200) -> str:
    """One short line for a log: PyMongo's server-selection errors carry the whole topology in their text."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"
