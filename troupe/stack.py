"""A readable report of the infrastructure a deployment needs: is each part there, and where."""

from __future__ import annotations

from dataclasses import dataclass, field

from troupe.db import make_client
from troupe.kafka import ensure_topics
from troupe.redaction import redact
from troupe.settings import Settings

__all__ = ["StackReport", "check_stack"]


@dataclass
class StackReport:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def add(self, ok: bool, line: str) -> None:
        """Lines name the servers' addresses as configured, so secrets are masked before anything is kept."""
        self.ok &= ok
        self.lines.append(("[green]ok[/green]   " if ok else "[red]FAIL[/red] ") + redact(line))


async def check_stack(settings: Settings) -> StackReport:
    report = StackReport()
    try:
        created = await ensure_topics(settings, settings.topics.all())
        report.add(
            True,
            f"Kafka at {settings.kafka_bootstrap_servers}: {len(settings.topics.all())} topics under "
            f"'{settings.topic_prefix}.' ({len(created)} created now)",
        )
    except Exception as exc:  # a report, not a crash: say what failed and go on
        report.add(False, f"Kafka at {settings.kafka_bootstrap_servers}: {exc!r}")
    client = make_client(settings)
    try:
        info = await client.server_info()
        report.add(
            True, f"MongoDB-wire server at {settings.mongodb_uri} (reports version {info.get('version')})"
        )
    except Exception as exc:
        report.add(False, f"MongoDB-wire server at {settings.mongodb_uri}: {exc!r}")
    finally:
        await client.close()
    return report
