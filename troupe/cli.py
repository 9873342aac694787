"""The `troupe` command line."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway_svc.artefact_retention import prune_expired
from gateway_svc.auth import MongoKeyStore, Role
from gateway_svc.client import GatewayClient, GatewayError
from gateway_svc.projection_store import MongoTaskStore
from schemas import TaskConstraints, TaskRequest, TaskSubmitted, encode_event
from schemas.policy import TenantPolicy
from troupe.artefacts import Pruned, SelectedArtefacts
from troupe.artifact_files import UnsafeArtifact, save_artifact
from troupe.db import make_client, make_database
from troupe.kafka import ensure_topics, make_broker
from troupe.llm.config import LLMSettings
from troupe.llm.offline import HOW_TO_CONFIGURE
from troupe.llm.wiring import build_providers
from troupe.policy_store import MongoPolicyStore
from troupe.settings import Settings
from troupe.stack import check_stack

__all__ = ["app", "describe_event", "main"]

app = typer.Typer(help="Troupe: plan, execute and review tasks over Kafka.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of this deployment.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys of the gateway. Operator commands: they write to MongoDB directly (MONGODB_URI).",
    no_args_is_help=True,
)
policy_app = typer.Typer(
    help="Tenant policies. Operator commands: they read and write MongoDB directly (MONGODB_URI).",
    no_args_is_help=True,
)
app.add_typer(topics_app, name="topics")
app.add_typer(keys_app, name="keys")
app.add_typer(policy_app, name="policy")
console = Console()

Url = Annotated[str, typer.Option("--url", envvar="TROUPE_GATEWAY_URL", help="The gateway's base URL.")]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="TROUPE_API_KEY", help="A gateway API key.", show_default=False),
]
DEFAULT_URL = "http://127.0.0.1:8000"
SAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "samples" / "callchain_app"
_ENDED = {"succeeded", "failed", "cancelled", "timed_out", "budget_exhausted", "rejected", "declined"}


@topics_app.command("create")
def create_topics() -> None:
    """Create every Troupe topic that does not exist yet."""
    settings = Settings()
    created = asyncio.run(ensure_topics(settings, settings.topics.all()))
    for topic in settings.topics.all():
        console.print(f"{topic}  [dim]{'created' if topic in created else 'exists'}[/dim]")


@app.command()
def demo(url: Url = DEFAULT_URL, api_key: ApiKey = None) -> None:
    """Troupe's demo: the call sequence from main() to process_data() in the sample project."""
    settings = Settings()
    report = asyncio.run(check_stack(settings))
    for line in report.lines:
        console.print(line)
    if not report.ok:
        raise typer.Exit(1)
    providers, _ = build_providers(LLMSettings())
    if providers:
        console.print(f"LLM providers configured: {', '.join(sorted(providers))}")
    else:
        console.print(
            "[yellow][offline mode][/yellow] no LLM is configured, so Troupe plans and reviews with its "
            f"deterministic offline planner and reviewer; {HOW_TO_CONFIGURE}."
        )
    description = f"Give me the call sequence from main() to process_data() in {SAMPLE_PROJECT}"
    console.print(f"\nsubmitting: [bold]{escape(description)}[/bold]")
    with _gateway(url, api_key or local_admin_key()) as gateway:
        task_id = _or_exit(lambda: gateway.submit({"description": description}, None))["task_id"]
        console.print(f"task [bold]{task_id}[/bold]")
        final = _follow(gateway, task_id)
        for step in (final.get("plan") or {}).get("steps", []):
            console.print(f"plan step [bold]{step['id']}[/bold]: {step['tool']} {json.dumps(step['args'])}")
        _print_task(final)
        raise typer.Exit(0 if final.get("status") == "succeeded" else 1)


@app.command()
def submit(
    description: Annotated[str, typer.Argument(help="What to do, in plain language.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the task live until it ends.")] = False,
    max_iterations: Annotated[int | None, typer.Option(min=1, max=20)] = None,
    max_duration_s: Annotated[int | None, typer.Option(min=1)] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retries with one key submit once.")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Submit a task through the gateway; with --wait, show its progress and result."""
    constraints = {"max_iterations": max_iterations, "max_duration_s": max_duration_s}
    request = {"description": description, "constraints": {k: v for k, v in constraints.items() if v}}
    with _gateway(url, api_key) as gateway:
        accepted = _or_exit(lambda: gateway.submit(request, idempotency_key))
        task_id = accepted["task_id"]
        console.print(f"task [bold]{task_id}[/bold] submitted")
        if wait:
            final = _follow(gateway, task_id)
            _print_task(final)
            raise typer.Exit(0 if final.get("status") == "succeeded" else 1)


@app.command()
def status(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Show a task: status, progress, plan steps, review, result or error, usage."""
    with _gateway(url, api_key) as gateway:
        _print_task(_or_exit(lambda: gateway.task(task_id)))


@app.command()
def logs(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Print a task's log, one line per event."""
    with _gateway(url, api_key) as gateway:
        for entry in _or_exit(lambda: list(gateway.logs(task_id))):
            style = {"warning": "yellow", "error": "red"}.get(entry["level"], "")
            line = escape(f"{entry['time']}  {entry['type']:<22} {entry['message']}")
            console.print(f"[{style}]{line}[/{style}]" if style else line, highlight=False)


@app.command()
def cancel(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Ask for a task to be cancelled."""
    with _gateway(url, api_key) as gateway:
        _or_exit(lambda: gateway.cancel(task_id))
        console.print(f"cancel requested for {task_id}")


Comment = Annotated[str, typer.Option("--comment", help="Shown in the task with the decision.")]


@app.command()
def approve(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    comment: Comment = "",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Approve the plan a task waits with (a key whose role the tenant policy lets approve)."""
    _answer(task_id, "approve", comment, url, api_key)


@app.command()
def reject(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    comment: Comment = "",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Reject the plan a task waits with: the task ends `declined`, with the comment."""
    _answer(task_id, "reject", comment, url, api_key)


def _answer(task_id: str, decision: str, comment: str, url: str, api_key: str | None) -> None:
    with _gateway(url, api_key) as gateway:
        recorded = _or_exit(lambda: gateway.answer_approval(task_id, decision, comment))
    console.print(f"{decision} recorded for {task_id} (plan {recorded['plan_hash'][:12]})")


@app.command("tasks")
def list_tasks(
    status_: Annotated[list[str] | None, typer.Option("--status", help="Only these statuses.")] = None,
    awaiting_approval: Annotated[
        bool, typer.Option("--awaiting-approval", help="Only tasks whose plan waits for approval.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """List your tasks, newest first."""
    statuses = [*(status_ or ()), *(["awaiting_approval"] if awaiting_approval else [])]
    with _gateway(url, api_key) as gateway:
        found = _or_exit(lambda: gateway.tasks(statuses, limit))
    table = Table("task", "status", "progress", "created", "description")
    for t in found:
        table.add_row(
            t["task_id"], t["status"], f"{t['progress']:.0%}", t["created_at"], escape(t["description"][:60])
        )
    console.print(table)


@app.command("artifacts")
def list_artifacts(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    save: Annotated[
        Path | None,
        typer.Option("--save", file_okay=False, help="Download each into this folder as <id>[.json|.txt]."),
    ] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """List a task's artifacts (its large step outputs); with --save DIR, download each, checking its sha256."""
    with _gateway(url, api_key) as gateway:
        items: list[dict[str, Any]] = _or_exit(lambda: gateway.artifacts(task_id))
        if save is None:
            table = Table("artifact", "step", "size", "media type", "sha256")
            for item in items:
                cells = (
                    item["id"],
                    item.get("step", ""),
                    f"{item['size']:,}",
                    item["media_type"],
                    item["sha256"],
                )
                table.add_row(*(escape(str(cell)) for cell in cells))
            console.print(table if items else f"task {escape(task_id)} has no artifacts")
            return
        save.mkdir(parents=True, exist_ok=True)
        refused = 0
        for item in items:
            try:
                path = save_artifact(gateway, task_id, item, save)
            except (UnsafeArtifact, GatewayError) as exc:
                refused += 1
                console.print(f"[red]{escape(str(exc))}[/red]")
            else:
                console.print(
                    escape(f"saved {path} ({item['size']:,} bytes, sha256 checked)"), highlight=False
                )
    if refused:
        raise typer.Exit(2)


@app.command("prune-artifacts")
def prune_artifacts(
    days: Annotated[
        float | None,
        typer.Option(min=0, help="Retention in days (default TROUPE_ARTEFACT_RETENTION_DAYS); 0 keeps all."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
) -> None:
    """Remove the artifacts of tasks that ended more than the retention ago, as the gateway's sweep does.
    An operator command: it works on MongoDB directly (MONGODB_URI)."""
    settings = Settings()
    retention = settings.artefact_retention_days if days is None else days
    if retention == 0:
        console.print("retention is 0: artifacts are kept")
        return
    pruned = asyncio.run(_prune(settings, retention, dry_run))
    for task in pruned.tasks:
        console.print(escape(f"{task.tenant}  {task.task_id}"), highlight=False)
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {pruned.artefacts} artifact(s) of {len(pruned.tasks)} task(s) ended over {retention:g} days ago"
    )


async def _prune(settings: Settings, retention_days: float, dry_run: bool) -> Pruned:
    client = make_client(settings)
    try:
        database = make_database(client, settings)
        artefacts = SelectedArtefacts(database, settings.artefact_store)
        await artefacts.prepare()
        return await prune_expired(artefacts, MongoTaskStore(database), retention_days, dry_run=dry_run)
    finally:
        await client.close()


@app.command()
def publish(
    description: Annotated[str, typer.Argument(help="What to do, in plain language.")],
    tenant: Annotated[str, typer.Option(help="The tenant that owns the task.")] = "default",
    task_id: Annotated[str | None, typer.Option(help="Defaults to a new UUID.")] = None,
    max_iterations: Annotated[int, typer.Option(min=1, max=20)] = 3,
) -> None:
    """Publish a task.submitted event straight to Kafka (no gateway), keyed by its task id."""
    settings = Settings()
    event = TaskSubmitted(
        task_id=task_id or str(uuid.uuid4()),
        tenant=tenant,
        request=TaskRequest(
            description=description, constraints=TaskConstraints(max_iterations=max_iterations)
        ),
    )

    async def send() -> None:
        await ensure_topics(settings, settings.topics.all(), partitions=settings.kafka_partitions)
        async with make_broker(settings) as broker:
            await broker.start()
            await broker.publish(
                encode_event(event), settings.topics.task_submitted, key=event.task_id.encode()
            )

    asyncio.run(send())
    console.print(f"published task [bold]{event.task_id}[/bold] on {settings.topics.task_submitted}")


@keys_app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option(help="The tenant whose tasks the key sees.")],
    role: Annotated[
        Role,
        typer.Option(help="operator (every tenant's policy), or within the tenant: admin, approver or user."),
    ] = Role.USER,
) -> None:
    """Create an API key; its token is printed once and stored only as a hash."""
    key, token = asyncio.run(_with_keys(lambda keys: keys.create(tenant, role)))
    console.print(f"key id  {key.key_id}\ntenant  {key.tenant}\nrole    {key.role}")
    console.print(f"token   [bold]{token}[/bold]  [dim](shown once: keep it)[/dim]")


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id (not the token).")]) -> None:
    """Revoke an API key: it stops working at once on every gateway."""
    if not asyncio.run(_with_keys(lambda keys: keys.revoke(key_id))):
        console.print(f"[red]no key {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("list")
def list_keys(tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None) -> None:
    """List API keys (ids, tenants, roles; never tokens)."""
    table = Table("key id", "tenant", "role", "created", "revoked")
    for key in asyncio.run(_with_keys(lambda keys: keys.all(tenant))):
        table.add_row(
            key.key_id, key.tenant, key.role, key.created_at.isoformat(), "yes" if key.revoked else ""
        )
    console.print(table)


async def _with_keys(use: Any) -> Any:
    settings = Settings()
    client = make_client(settings)
    try:
        keys = MongoKeyStore(make_database(client, settings))
        await keys.ensure_indexes()
        return await use(keys)
    finally:
        await client.close()


@policy_app.command("show")
def show_policy(tenant: Annotated[str, typer.Argument(help="The tenant.")]) -> None:
    """Print a tenant's policy as JSON (the default, which narrows nothing, when none is set)."""
    policy = asyncio.run(_with_policies(lambda policies: policies.get(tenant)))
    console.print_json(policy.model_dump_json())


@policy_app.command("set")
def set_policy(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    file: Annotated[
        Path, typer.Option("--file", exists=True, dir_okay=False, help="The policy as JSON (docs/api.md).")
    ],
) -> None:
    """Replace a tenant's policy with the one in --file; every stage applies it within a few seconds."""
    try:
        body = json.loads(file.read_text())
        policy = TenantPolicy.model_validate({**body, "tenant": body.get("tenant", tenant)})
    except (ValueError, ValidationError) as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    if policy.tenant != tenant:
        console.print(f"[red]{escape(f'the file is for tenant {policy.tenant!r}, not {tenant!r}')}[/red]")
        raise typer.Exit(2)
    asyncio.run(_with_policies(lambda policies: policies.put(policy)))
    console.print_json(policy.model_dump_json())


async def _with_policies(use: Any) -> Any:
    settings = Settings()
    client = make_client(settings)
    try:
        return await use(MongoPolicyStore(make_database(client, settings), cache_ttl_s=0))
    finally:
        await client.close()


def local_admin_key() -> str | None:
    """The local gateway's admin key: TROUPE_ADMIN_API_KEY if set, else the file the Makefile keeps in
    $TROUPE_HOME (only the gateway's process is handed the key in its environment)."""
    if key := os.environ.get("TROUPE_ADMIN_API_KEY"):
        return key
    home = Path(os.environ.get("TROUPE_HOME") or SAMPLE_PROJECT.parents[1] / ".troupe")
    try:
        return (home / "admin-api-key").read_text().strip() or None
    except OSError:
        return None


def _gateway(url: str, api_key: str | None) -> GatewayClient:
    return GatewayClient(url, api_key)


def _or_exit(call: Any) -> Any:
    try:
        return call()
    except GatewayError as exc:
        _fail(exc)


def _fail(exc: GatewayError) -> NoReturn:
    console.print(
        f"[red]{escape(exc.detail)}[/red]" + (f" [dim](HTTP {exc.status})[/dim]" if exc.status else "")
    )
    raise typer.Exit(2) from exc


def _follow(gateway: GatewayClient, task_id: str) -> dict[str, Any]:
    """A live progress bar from the task's event stream; returns the task as it ended."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        row = bar.add_task("submitted", total=1.0)
        try:
            for name, data in gateway.events(task_id):
                text, completed = describe_event(name, data)
                bar.update(row, description=text, completed=completed)  # None leaves the fill as it is
        except GatewayError as exc:
            _fail(exc)
    # The stream can end a moment before the projection has stored the end: give it that moment.
    for _ in range(50):
        task: dict[str, Any] = _or_exit(lambda: gateway.task(task_id))
        if task["status"] in _ENDED:
            break
        time.sleep(0.1)
    return task


def describe_event(name: str, data: dict[str, Any]) -> tuple[str, float | None]:
    """The progress bar's text and fill after one server-sent event."""
    if name == "snapshot":
        return f"{data['status']}", float(data["progress"])
    if name == "step.progressed":
        return f"step {data['step_id']} {data['phase']}", data["steps_done"] / data["steps_total"]
    if name == "plan.created":
        return f"executing iteration {data['iteration']} ({len(data['plan']['steps'])} steps)", 0.0
    if name == "execution.completed":
        return "reviewing", 1.0
    if name == "review.completed":
        return f"review: {data['verdict']}", None
    if name == "task.finished":
        return data["status"], 1.0 if data["status"] == "succeeded" else None
    if name == "event.dead_lettered":
        return "rejected", None
    if name == "plan.awaiting_approval":
        return "awaiting approval", None
    if name == "approval.decided":
        return f"approval: {data['decision']}", None
    return name, None


def _print_task(task: dict[str, Any]) -> None:
    colour = {"succeeded": "green"}.get(task["status"], "red" if task["status"] in _ENDED else "cyan")
    console.print(
        f"[bold]{task['task_id']}[/bold]  [{colour}]{task['status']}[/{colour}]  {task['progress']:.0%}"
    )
    console.print(f"  {escape(task['description'])}", highlight=False)
    if task.get("current_step"):
        console.print(f"  current step: {task['current_step']} (iteration {task['iteration']})")
    for step in task.get("steps", []):
        line = f"  - {step['step_id']} [{step['tool']}] {step['status']} {step['output_summary'][:80]}"
        console.print(escape(line), highlight=False)
    if task.get("review"):
        console.print(escape(f"  review: {task['review']['verdict']} {task['review']['feedback'][:200]}"))
        for finding in task["review"].get("findings", []):
            line = f"    {finding['status']:<12} {finding['id']}: {finding['detail'][:160]}"
            console.print(escape(line), highlight=False)
    result = task.get("result")
    paths = result.get("paths") if isinstance(result, dict) else None
    if isinstance(paths, list):
        # A code_analyzer answer: show the call sequences themselves, not the whole graph.
        console.print(f"  result: {len(paths)} call sequence(s)")
        for path in paths:
            console.print("    " + escape(" -> ".join(map(str, path))), highlight=False)
    elif result is not None:
        console.print("  result: " + escape(json.dumps(result, ensure_ascii=False)[:2_000]), highlight=False)
    _print_approval(task)
    if task.get("error"):
        console.print(f"  [red]error: {escape(task['error'])}[/red]")
    usage = task.get("usage") or {}
    console.print(
        f"  usage: {usage.get('llm_calls', 0)} LLM calls, {usage.get('tokens_in', 0)}+{usage.get('tokens_out', 0)}"
        f" tokens, ${usage.get('cost_usd', 0):.4f}"
        + (f"  trace {task['trace_id']}" if task.get("trace_id") else "")
    )


def _print_approval(task: dict[str, Any]) -> None:
    approval = task.get("approval")
    if task["status"] == "awaiting_approval" and approval:
        console.print(f"  [yellow]awaits approval until {approval['expires_at']}:[/yellow]")
        for reason in approval["reasons"]:
            console.print("    " + escape(reason), highlight=False)
    for d in task.get("decisions", []):
        line = f"  {d['decision']} by {d['decided_by']} ({d['role'] or '-'}) at {d['decided_at']}, plan {d['plan_hash'][:12]}"
        console.print(escape(line + (f": {d['comment']}" if d["comment"] else "")), highlight=False)


def main() -> None:
    app()
