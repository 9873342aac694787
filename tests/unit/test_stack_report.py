from __future__ import annotations

from troupe.settings import Settings
from troupe.stack import check_stack


async def test_the_stack_check_does_not_print_the_database_password() -> None:
    settings = Settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://troupe:s3cret-pw@127.0.0.1:1/?serverSelectionTimeoutMS=200",
        kafka_request_timeout_ms=1_000,
        mongodb_timeout_ms=200,
    )
    report = await check_stack(settings)
    printed = "\n".join(report.lines)
    assert "mongodb://troupe:***@127.0.0.1:1/" in printed
    assert "s3cret-pw" not in printed
