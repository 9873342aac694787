"""The topic catalogue and the contract files published in docs/."""

from __future__ import annotations

from pathlib import Path

from schemas import EVENT_TOPICS, FinalStatus, TaskFinished, TaskSubmitted, Topics
from troupe.export_contracts import asyncapi_document, rendered_contracts

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_topics_live_under_the_configured_prefix() -> None:
    topics = Topics("acme-prod")
    assert topics.task_submitted == "acme-prod.tasks.submitted"
    assert (
        topics.for_event(TaskFinished(task_id="t", status=FinalStatus.SUCCEEDED))
        == "acme-prod.tasks.finished"
    )
    assert all(t.startswith("acme-prod.") for t in topics.all())


def test_every_event_has_its_own_topic() -> None:
    topics = Topics().all()
    assert len(topics) == len(set(topics)) == len(EVENT_TOPICS)


def test_asyncapi_declares_a_channel_and_payload_schema_per_topic() -> None:
    doc = asyncapi_document(Topics("x"))
    assert set(doc["channels"]) == set(Topics("x").all())
    payloads = str(doc["components"]["schemas"])
    assert "TaskRequest" in payloads and TaskSubmitted.__name__ in payloads


def test_committed_contract_files_match_the_models() -> None:
    stale = [rel for rel, content in rendered_contracts().items() if (DOCS / rel).read_text() != content]
    assert not stale, f"docs/ is behind the models; run `make contracts` ({', '.join(stale)})"
