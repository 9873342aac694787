"""`troupe policy show|set` and `troupe keys create --role operator`, straight against the database."""

from __future__ import annotations

import json
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner

from troupe.cli import app
from troupe.db import Document


def test_policy_set_then_show_and_an_invalid_file_says_why(
    database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    runner = CliRunner(env={"TROUPE_MONGODB_DATABASE": database.name, "COLUMNS": "150"})
    assert json.loads(runner.invoke(app, ["policy", "show", "acme"]).output)["allowed_tools"] is None
    good = tmp_path / "policy.json"
    good.write_text(json.dumps({"allowed_tools": ["math"], "egress_hosts": ["*.example.com"]}))
    assert runner.invoke(app, ["policy", "set", "acme", "--file", str(good)]).exit_code == 0
    shown = json.loads(runner.invoke(app, ["policy", "show", "acme"]).output)
    assert (shown["tenant"], shown["allowed_tools"], shown["egress_hosts"]) == (
        "acme",
        ["math"],
        ["*.example.com"],
    )

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"max_iterations": 99}))
    refused = runner.invoke(app, ["policy", "set", "acme", "--file", str(bad)])
    assert refused.exit_code == 2 and "max_iterations" in refused.output
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"tenant": "globex"}))
    assert "not 'acme'" in runner.invoke(app, ["policy", "set", "acme", "--file", str(other)]).output


def test_an_operator_key_is_made_with_the_cli(database: AsyncDatabase[Document]) -> None:
    runner = CliRunner(env={"TROUPE_MONGODB_DATABASE": database.name, "COLUMNS": "150"})
    created = runner.invoke(app, ["keys", "create", "--tenant", "default", "--role", "operator"])
    assert created.exit_code == 0 and "operator" in created.output
