"""The stack check against the real broker prints what it checked, without the database password."""

from __future__ import annotations

from troupe.settings import Settings
from troupe.stack import check_stack


async def test_the_stack_check_does_not_print_the_database_password(settings: Settings, unique: str) -> None:
    checked = settings.model_copy(
        update={
            "topic_prefix": f"t{unique}",
            "mongodb_uri": "mongodb://troupe:s3cret-pw@127.0.0.1:1/?serverSelectionTimeoutMS=200",
            "mongodb_timeout_ms": 200,
        }
    )
    report = await check_stack(checked)
    printed = "\n".join(report.lines)
    assert "mongodb://troupe:***@127.0.0.1:1/" in printed
    assert "s3cret-pw" not in printed
