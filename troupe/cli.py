"""The `troupe` command line."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from troupe.kafka import ensure_topics
from troupe.settings import Settings
from troupe.stack import check_stack

app = typer.Typer(help="Troupe: plan, execute and review tasks over Kafka.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of this deployment.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console()


@topics_app.command("create")
def create_topics() -> None:
    """Create every Troupe topic that does not exist yet."""
    settings = Settings()
    created = asyncio.run(ensure_topics(settings, settings.topics.all()))
    for topic in settings.topics.all():
        console.print(f"{topic}  [dim]{'created' if topic in created else 'exists'}[/dim]")


@app.command()
def demo() -> None:
    """Bring-up check and demo. The Plan -> Execute -> Review pipeline is not built yet, so it says so."""
    settings = Settings()
    report = asyncio.run(check_stack(settings))
    for line in report.lines:
        console.print(line)
    if not report.ok:
        raise typer.Exit(1)
    console.print(
        "\n[yellow]The Plan -> Execute -> Review pipeline is not there yet:[/yellow] the services "
        "(planner_svc, executor_svc, reviewer_svc, gateway_svc) come with the pipeline issue. "
        "The infrastructure above is running and the topics exist, so events can already be published "
        "to them (contracts in docs/asyncapi.json)."
    )


def main() -> None:
    app()
