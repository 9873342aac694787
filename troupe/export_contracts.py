"""Write the public contracts into docs/: a JSON Schema per event and an AsyncAPI document.

Outside producers publish straight to Kafka from these files, so they are generated from the models and
a unit test fails when the committed copies fall behind.  Run: python -m troupe.export_contracts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from schemas import EVENT_TOPICS, Topics
from troupe import __version__

__all__ = ["asyncapi_document", "event_json_schemas", "rendered_contracts", "write_contracts"]

DOCS = Path(__file__).resolve().parent.parent / "docs"


def event_json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per event model."""
    out = {}
    for cls in EVENT_TOPICS:
        name = cls.model_fields["type"].default
        schema = cls.model_json_schema(mode="validation")
        schema["$id"] = f"https://troupe.dev/schemas/{name}.json"
        out[f"{name}.schema.json"] = schema
    return out


def asyncapi_document(topics: Topics | None = None) -> dict[str, Any]:
    topics = topics or Topics()
    broker = KafkaBroker("127.0.0.1:9092")  # never connected: it only carries the channel declarations
    for cls in EVENT_TOPICS:
        topic = topics.for_event(cls)
        broker.publisher(
            topic,
            title=topic,
            description=(cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else None,
            schema=cls,
        )
    spec = AsyncAPI(
        broker,
        title="Troupe events",
        version=__version__,
        description=(
            "Every event of the Plan -> Execute -> Review flow. Messages are JSON, keyed by task id, "
            "with OpenTelemetry context in the traceparent header."
        ),
    ).to_specification()
    doc: dict[str, Any] = spec.to_jsonable()
    return doc


def _render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def rendered_contracts() -> dict[str, str]:
    """Relative path under docs/ -> file content."""
    files = {f"schemas/{name}": _render(schema) for name, schema in event_json_schemas().items()}
    files["asyncapi.json"] = _render(asyncapi_document())
    return files


def write_contracts(root: Path = DOCS) -> list[Path]:
    written = []
    for rel, content in rendered_contracts().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_contracts(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(f"wrote {path}")
