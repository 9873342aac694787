"""Grafana, Prometheus, Tempo and Collector files cannot be exercised without Docker here, so their
consistency is checked: they parse, the dashboard refers only to provisioned datasources, and every metric
a dashboard query reads is one the code emits, under its Prometheus name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from troupe import metrics

INFRA = Path(__file__).resolve().parents[2] / "infra"
GRAFANA = INFRA / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# PromQL words that are not metric names.
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile", "by",
    "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "topk",
    "bottomk", "clamp_min", "clamp_max", "abs", "delta", "deriv", "avg_over_time", "max_over_time",
    "label_replace", "vector", "scalar", "time", "le", "bool",
}  # fmt: skip


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # rows hold their panels when collapsed
    return found


def _datasource_uids() -> dict[str, str]:
    provisioned = _yaml(GRAFANA / "provisioning" / "datasources" / "troupe.yaml")
    return {ds["uid"]: ds["type"] for ds in provisioned["datasources"]}


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left after labels, ranges, numbers and words."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return names - PROMQL_WORDS


def emitted_series() -> set[str]:
    return {series for metric in metrics.ALL for series in metrics.prometheus_series(metric)}


def test_prometheus_names_follow_the_collector_translation() -> None:
    # Written out by hand: this is the contract the dashboards are built on.
    assert metrics.prometheus_series(metrics.TASKS_FINISHED) == ("troupe_tasks_finished_total",)
    assert metrics.prometheus_series(metrics.TASK_DURATION) == (
        "troupe_task_duration_seconds_bucket",
        "troupe_task_duration_seconds_sum",
        "troupe_task_duration_seconds_count",
    )
    assert metrics.prometheus_series(metrics.LLM_TOKENS) == ("troupe_llm_tokens_total",)
    assert metrics.prometheus_series(metrics.LLM_COST) == ("troupe_llm_cost_usd_total",)
    assert metrics.prometheus_series(metrics.CONSUMER_LAG) == ("troupe_kafka_consumer_lag",)
    assert len({m.name for m in metrics.ALL}) == len(metrics.ALL)


def test_metric_names_are_read_out_of_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, stage) (rate(a_b_bucket{x="y"}[5m]))) / on(job) c_total'
    assert metric_names_in(expr) == {"a_b_bucket", "c_total"}


def test_datasources_are_provisioned_with_fixed_uids() -> None:
    provisioned = _yaml(GRAFANA / "provisioning" / "datasources" / "troupe.yaml")
    assert provisioned["apiVersion"] == 1
    assert _datasource_uids() == {"prometheus": "prometheus", "tempo": "tempo"}
    urls = {ds["uid"]: ds["url"] for ds in provisioned["datasources"]}
    compose = _yaml(INFRA / "docker-compose.yml")["services"]
    for url in urls.values():
        assert re.match(r"http://([^:/]+)", url).group(1) in compose  # type: ignore[union-attr]


def test_the_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = _yaml(GRAFANA / "provisioning" / "dashboards" / "troupe.yaml")["providers"][0]
    grafana = _yaml(INFRA / "docker-compose.yml")["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_panels_use_only_provisioned_datasources(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    uids = _datasource_uids()
    for panel in _panels(dashboard):
        for ref in [panel.get("datasource"), *(t.get("datasource") for t in panel.get("targets", []))]:
            if ref is not None:
                assert ref["uid"] in uids, f"{panel['title']}: unknown datasource {ref}"
                assert ref["type"] == uids[ref["uid"]], f"{panel['title']}: {ref}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_read_only_metrics_the_code_emits(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    emitted = emitted_series()
    queries = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    assert queries
    for expr in queries:
        names = metric_names_in(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= emitted, f"{expr!r} reads {names - emitted}, which nothing emits"


def test_the_dashboard_has_the_promised_panels_and_leads_to_traces() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "troupe.json").read_text())
    titles = " | ".join(p["title"].lower() for p in _panels(dashboard))
    for word in ("throughput", "latency by stage", "failures", "llm cost", "slowest traces"):
        assert word in titles
    traces = [p for p in _panels(dashboard) if p["datasource"]["uid"] == "tempo"]
    assert traces and all(t["queryType"] == "traceql" for p in traces for t in p["targets"])
    assert any(t.get("exemplar") for p in _panels(dashboard) for t in p.get("targets", []))


def test_the_collector_sends_traces_to_tempo_and_metrics_to_prometheus() -> None:
    collector = _yaml(INFRA / "otel-collector.yaml")
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/tempo"]
    assert collector["exporters"]["otlp/tempo"]["endpoint"].startswith("tempo:")
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    scrape = _yaml(INFRA / "prometheus.yml")["scrape_configs"][0]["static_configs"][0]["targets"]
    port = collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    assert scrape == [f"otel-collector:{port}"]
    tempo = _yaml(INFRA / "tempo.yaml")
    assert "otlp" in tempo["distributor"]["receivers"]
    assert tempo["usage_report"]["reporting_enabled"] is False


def test_compose_services_export_to_the_collector() -> None:
    services = _yaml(INFRA / "docker-compose.yml")["services"]
    troupe = [svc for svc in services.values() if svc.get("image") == "troupe:local"]
    assert troupe
    for svc in troupe:
        assert svc["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert svc["environment"]["TROUPE_GRAFANA_URL"]
