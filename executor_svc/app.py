"""The executor's composition root."""

from __future__ import annotations

from faststream import FastStream

from executor_svc.answer_approval import answer_approval
from executor_svc.approval_waits import MongoApprovalWaits
from executor_svc.deps import SERVICE, ExecutorDeps
from executor_svc.execute_plan import execute_plan
from executor_svc.expire_approvals import ExpirySweep
from executor_svc.remove_workspace import remove_workspace
from executor_svc.settings import ExecutorSettings
from executor_svc.step_runner import ToolRunner
from executor_svc.stop_steps import stop_steps
from executor_svc.toolbox_runner import ToolboxRunner
from executor_svc.workspaces import Workspaces
from schemas import ApprovalDecided, CancelRequested, PlanCreated, TaskFinished
from schemas.policy import TenantPolicy
from toolbox import Complete, ToolContext, ToolSettings, build_registry
from troupe.artefacts import SelectedArtefacts
from troupe.consuming import subscribe_broadcast, subscribe_events
from troupe.llm.cache import MongoCache
from troupe.llm.config import LLMSettings
from troupe.llm.wiring import create_router
from troupe.policy_store import MongoPolicyStore
from troupe.service import create_runtime, create_worker_app, group_name

__all__ = ["create_app"]


def create_app(settings: ExecutorSettings) -> FastStream:
    runtime = create_runtime(settings)
    llm_settings = LLMSettings()
    cache = MongoCache(runtime.database[llm_settings.cache_collection])
    router = create_router(llm_settings, cache=cache)
    registry = build_registry(ToolSettings())
    read_only = tuple(root.resolve() for root in settings.executor_read_only_roots)
    workspaces = Workspaces(
        settings.executor_workspace_root,
        settings.executor_workspace_quota_mb,
        settings.executor_workspace_retention_s,
    )

    def tools_for(event: PlanCreated, policy: TenantPolicy, complete: Complete | None) -> ToolRunner:
        workspace = workspaces.open(event.tenant, event.task_id)
        egress = None if policy.egress_hosts is None else tuple(policy.egress_hosts)
        context = ToolContext(
            workspace=workspace, read_only_roots=read_only, egress_hosts=egress, complete=complete
        )
        return ToolboxRunner(registry, context)

    artefacts = SelectedArtefacts(runtime.database, settings.artefact_store)
    waits = MongoApprovalWaits(runtime.database)
    deps = ExecutorDeps(
        ledger=runtime.ledger,
        publisher=runtime.publisher,
        tools_for=tools_for,
        tools={spec.name: spec for spec in registry.specs()},
        max_parallel_steps=settings.executor_max_parallel_steps,
        max_event_bytes=settings.max_event_bytes,
        artefacts=artefacts,
        artefact_threshold_bytes=settings.artefact_threshold_bytes,
        policies=MongoPolicyStore(runtime.database, settings.policy_cache_ttl_s),
        waits=waits,
        router=router,
    )

    async def on_plan_created(event: PlanCreated) -> None:
        await execute_plan(event, deps)

    subscribe_events(
        runtime.consumers,
        settings.topics.plan_created,
        group=group_name(settings, SERVICE),
        handler=on_plan_created,
        expected=(PlanCreated,),
    )

    async def on_approval_decided(event: ApprovalDecided) -> None:
        await answer_approval(event, deps)

    subscribe_events(
        runtime.consumers,
        settings.topics.approval_decided,
        group=group_name(settings, SERVICE),
        handler=on_approval_decided,
        expected=(ApprovalDecided,),
    )

    async def on_cancel_requested(event: CancelRequested) -> None:
        await stop_steps(event, deps)

    async def on_task_finished(event: TaskFinished) -> None:
        await remove_workspace(event, workspaces, runtime.ledger)

    # No consumer group: every replica must hear every cancel, since any of them may run the task, and every
    # ending, since the replica that ran the task holds its workspace.
    subscribe_broadcast(
        runtime.broker, settings, settings.topics.cancel_requested, CancelRequested, on_cancel_requested
    )
    subscribe_broadcast(
        runtime.broker, settings, settings.topics.task_finished, TaskFinished, on_task_finished
    )

    app = create_worker_app(
        runtime,
        on_startup={
            "MongoDB: creating the LLM cache's indexes": cache.ensure_indexes,
            "MongoDB: choosing the artefact store": artefacts.prepare,
            "MongoDB: indexing the waits for approval": waits.ensure_indexes,
        },
    )
    # The timer of every wait for approval (decision 16): a sweep on start, then every interval.
    sweep = ExpirySweep(deps, settings.executor_approval_sweep_s)
    app.after_startup(sweep.start)
    app.on_shutdown(sweep.stop)
    return app
