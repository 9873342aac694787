"""The gateway's own settings on top of the shared ones: where it listens, its first key, its limits."""

from __future__ import annotations

from pydantic import Field, SecretStr

from troupe.settings import Settings

__all__ = ["GatewaySettings"]


class GatewaySettings(Settings):
    """TROUPE_GATEWAY_HOST, TROUPE_GATEWAY_PORT, TROUPE_ADMIN_API_KEY, TROUPE_RATE_LIMIT_PER_MINUTE, ...

    Loopback by default: exposing the API is a deliberate act (set TROUPE_GATEWAY_HOST=0.0.0.0).
    """

    service_name: str = "gateway"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65_535)
    admin_api_key: SecretStr | None = None
    rate_limit_per_minute: int = Field(default=600, ge=1)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    # How long a request waits to reach MongoDB before answering 503 (the workers wait longer:
    # TROUPE_MONGODB_TIMEOUT_MS), so that an outage is a quick 503, not a hanging request.
    gateway_mongodb_timeout_ms: int = Field(default=2_000, ge=100)
    # While MongoDB is unreachable, a key verified this recently may still submit (decision 9).
    key_cache_ttl_s: float = Field(default=60.0, ge=0)
    # How long GET /tasks/{id}/events waits for a task it has not seen yet (POST then stream at once).
    sse_first_event_wait_s: float = Field(default=5.0, ge=0)
    sse_keepalive_s: float = Field(default=10.0, gt=0)
    run_projection: bool = True
    # Tasks whose event log the projection keeps in memory (ended ones are dropped first): past it, each event
    # of a forgotten task costs three more reads. Set it above the tasks a replica has in flight.
    projection_remembered_tasks: int = Field(default=4_096, ge=1)
    # How often the gateway removes artefacts past TROUPE_ARTEFACT_RETENTION_DAYS (the first sweep at start).
    artefact_sweep_interval_s: float = Field(default=3_600, gt=0)
