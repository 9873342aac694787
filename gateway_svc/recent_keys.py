"""Keys the key store vouched for lately, so a MongoDB outage does not turn every client away.

Kafka, not MongoDB, is where a task is accepted: while the store is unreachable, a key that the store found
valid within the last `ttl_s` seconds may still submit tasks (decision 9). The store is always asked first;
this memory answers only when the store cannot. So a revoked key keeps working only if the store is down and
this replica verified the key less than `ttl_s` ago. Tokens are remembered by their SHA-256, never in clear.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway_svc.auth import ApiKey, hash_token

__all__ = ["RecentKeys"]


@dataclass
class RecentKeys:
    ttl_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    max_entries: int = 10_000
    _seen: dict[str, tuple[ApiKey, float]] = field(default_factory=dict)

    def note(self, token: str, key: ApiKey | None) -> None:
        """What the store answered for `token`: a valid key is remembered, anything else forgotten."""
        digest = hash_token(token)
        if key is None or key.revoked:
            self._seen.pop(digest, None)
            return
        if len(self._seen) >= self.max_entries:
            self._forget_expired()
        if len(self._seen) < self.max_entries:
            self._seen[digest] = (key, self.clock())

    def recall(self, token: str) -> ApiKey | None:
        """The key, if the store found it valid less than `ttl_s` ago."""
        seen = self._seen.get(hash_token(token))
        if seen is None or self.clock() - seen[1] >= self.ttl_s:
            return None
        return seen[0]

    def _forget_expired(self) -> None:
        now = self.clock()
        self._seen = {d: seen for d, seen in self._seen.items() if now - seen[1] < self.ttl_s}
