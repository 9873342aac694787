"""One settings object for every service, read from the environment (and an optional .env file)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import Topics
from troupe.event_limits import dead_letter_bytes

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Endpoints use the names the wider ecosystem uses (KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI), so the same
    code runs against the local stack, docker-compose and a managed cluster; the rest is TROUPE_*."""

    model_config = SettingsConfigDict(env_prefix="TROUPE_", env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "TROUPE_KAFKA_BOOTSTRAP_SERVERS"),
    )
    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27017/",
        validation_alias=AliasChoices("MONGODB_URI", "TROUPE_MONGODB_URI"),
    )
    mongodb_database: str = "troupe"
    topic_prefix: str = Field(default="troupe", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    service_name: str = "troupe"
    log_level: str = "INFO"
    log_json: bool = True
    # How long the broker holds an empty fetch. It returns as soon as a record arrives, so this is not paid per
    # hop (bench: same floor at 25 and 500 ms); short waits only multiply empty fetches: at 25 ms an idle worker
    # burnt 0.08-0.16 of a core on them, at 500 ms 0.01-0.02 (docs/benchmarks.md).
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=0, le=10_000)
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000)
    kafka_partitions: int = Field(default=8, ge=1, le=1_000)
    # Events each consumer group's process holds at once (handled or waiting behind their task's earlier
    # events), whatever the partition count; past it, fetching pauses (troupe.parallel_consumer).
    kafka_max_in_flight: int = Field(default=1_000, ge=1, le=100_000)
    # How often finished offsets are committed, and how long a revoked partition's work may take to finish
    # before it is given up (to be redelivered to the partition's new owner).
    kafka_commit_interval_ms: int = Field(default=200, ge=10, le=60_000)
    kafka_revoke_grace_s: float = Field(default=10.0, ge=0, le=300)
    # A handler that keeps failing is retried this often, then dead-lettered so the partition moves on. An
    # outage of Kafka or MongoDB (troupe.errors) does not count: it is waited out, however long it lasts.
    handler_max_attempts: int = Field(default=5, ge=1, le=100)
    # The largest event a consumer accepts (and the largest POST body the gateway reads); a larger one is
    # dead-lettered with its size. The topics accept more, so that it reaches its consumer and gets a reason.
    max_event_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    kafka_max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    mongodb_timeout_ms: int = Field(default=5_000, ge=100)
    # A step output larger than this (as JSON, or as text) is kept once in the artefact store and its event
    # carries a reference instead (decision 12); `auto` uses GridFS when the server handles it, else chunks.
    artefact_threshold_bytes: int = Field(default=32 * 1024, ge=1_024)
    artefact_store: Literal["auto", "gridfs", "chunks"] = "auto"
    # A task's artefacts are removed this long after the task ended (troupe.artefacts.retention); 0 keeps them.
    artefact_retention_days: float = Field(default=30, ge=0)
    # How much of each step output the reviewer and a revision's planner see (troupe.excerpts).
    excerpt_max_chars: int = Field(default=8_000, ge=500, le=1_000_000)
    # How long a stage may use a tenant's policy it read before reading it again (troupe.policy_store): an
    # operator's change reaches every stage within this time. Writes are never cached.
    policy_cache_ttl_s: float = Field(default=2.0, ge=0, le=60)
    # How long a starting service waits for Kafka and MongoDB before it gives up: servers and services start in
    # any order (compose, Kubernetes), so one that is not up yet is waited for, not a crash.
    start_timeout_s: float = Field(default=120, ge=0)
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "TROUPE_OTLP_ENDPOINT"),
    )
    # Serve the metrics as Prometheus text on this port (/metrics), besides any OTLP export.
    metrics_port: int | None = Field(default=None, ge=1, le=65_535)
    metrics_address: str = "127.0.0.1"
    # Grafana as its users reach it (TROUPE_GRAFANA_URL): the gateway links a task's trace there.
    grafana_url: str | None = None

    @model_validator(mode="after")
    def _topics_carry_every_accepted_event(self) -> Self:
        if self.max_event_bytes > self.kafka_max_message_bytes:
            raise ValueError(
                f"TROUPE_MAX_EVENT_BYTES ({self.max_event_bytes}) must not exceed "
                f"TROUPE_KAFKA_MAX_MESSAGE_BYTES ({self.kafka_max_message_bytes}), or events a consumer "
                "would accept could never be published"
            )
        return self

    @property
    def dead_letter_max_message_bytes(self) -> int:
        """What the dead-letter topic accepts: a letter keeps the largest record the topics take, whole."""
        return dead_letter_bytes(self.kafka_max_message_bytes)

    @classmethod
    def for_service(cls, name: str) -> Self:
        """Settings for one service: its name, unless TROUPE_SERVICE_NAME says otherwise."""
        settings = cls()
        return (
            settings
            if "service_name" in settings.model_fields_set
            else settings.model_copy(update={"service_name": name})
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)
