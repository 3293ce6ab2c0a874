"""The operator's Grafana dashboard and Prometheus alerts (manifests/monitoring, the
PrometheusRule component), checked against what a running Latchkey exports.

A series the bot does not export would leave a panel empty and an alert silent forever, so every
expression is parsed with promql-parser and each series, label and exact label value it reads is
looked up in a real `/metrics` answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import promql_parser
import pytest
import yaml

from tests.ops.promql import exported, problems

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "manifests" / "monitoring" / "latchkey-dashboard.json"
RULES = ROOT / "manifests" / "monitoring" / "latchkey-rules.yaml"
PROMETHEUS_RULE = ROOT / "manifests" / "components" / "prometheus-rule" / "prometheus-rule.yaml"
README = ROOT / "README.md"

# Grafana replaces these before a query reaches Prometheus; the values are ones it could use.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$job": ".+"}
GRID_COLUMNS = 24


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def dashboard_queries() -> dict[str, str]:
    """Every PromQL query of the dashboard, by where it is, as Grafana sends it."""
    queries = {f"panel {p['title']!r} {t['refId']}": t["expr"] for p in panels() for t in p["targets"]}
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":  # label_values(METRIC, LABEL): Grafana asks for METRIC's series
            [metric] = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["query"]["query"]).groups()
            queries[f"variable {variable['name']}"] = metric
    for name, value in GRAFANA_VARIABLES.items():
        queries = {where: query.replace(name, value) for where, query in queries.items()}
    return queries


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def readme_anchors() -> set[str]:
    """The anchors GitHub gives the README's headings."""
    headings = re.findall(r"^#+ (.+)$", README.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_query_and_alert_reads_only_series_a_running_latchkey_exports(bot):
    """Given a running bot, when every dashboard query and alert expression is parsed, then each
    series, label and label value it reads is one the bot's /metrics shows."""
    series = exported(httpx.get(bot.url + "/metrics").text)
    expressions = {**dashboard_queries(), **{f"alert {a['alert']}": a["expr"] for a in alerts()}}
    found = {where: problems(expression, series) for where, expression in expressions.items()}
    assert {where: found for where, found in found.items() if found} == {}


def test_the_check_catches_a_misspelt_series_label_or_value(bot):
    """The check above is only as good as this: each kind of slip is named."""
    series = exported(httpx.get(bot.url + "/metrics").text)
    assert problems('sum by (connector) (rate(latchkey_connector_calls_total[5m]))', series) == []
    assert problems("rate(latchkey_connector_call_total[5m])", series) == [
        "latchkey_connector_call_total is not exported"]
    assert problems("latchkey_revocation_lag_seconds", series) == [
        "latchkey_revocation_lag_seconds is not exported"]  # a histogram is stored as _bucket, _sum, _count
    assert problems('latchkey_requests{status="revoking"}', series) == [
        "latchkey_requests has no label status"]
    assert problems('latchkey_revocation_lag_seconds_bucket{le="60"}', series) == [
        'latchkey_revocation_lag_seconds_bucket never has le="60"']  # prometheus_client writes 60.0
    assert problems("sum by (conector) (latchkey_revocation_failures_total)", series) == [
        "no series under latchkey_revocation_failures_total{} has the label conector it groups by"]


@pytest.mark.parametrize("where", sorted(dashboard_queries()) + [f"alert {a['alert']}" for a in alerts()])
def test_every_expression_is_valid_promql(where):
    expression = {**dashboard_queries(), **{f"alert {a['alert']}": a["expr"] for a in alerts()}}[where]
    promql_parser.parse(expression)  # raises ValueError naming the error


def test_the_parser_refuses_what_prometheus_refuses():
    for broken in ("sum(rate(latchkey_connector_calls_total[5m])", "rate(latchkey_requests)",
                   'latchkey_requests{state=}', "latchkey_requests > > 0"):
        with pytest.raises(ValueError):
            promql_parser.parse(broken)


def test_the_rules_file_and_the_prometheus_rule_hold_the_same_rules():
    plain = yaml.safe_load(RULES.read_text())
    operator = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert set(plain) == {"groups"}
    assert operator["spec"] == plain


def test_every_alert_says_what_happened_and_points_to_what_to_do():
    """Each alert pages (severity critical), carries a summary and a description for whoever is
    woken, and a runbook_url naming an existing README section about that alert."""
    anchors = readme_anchors()
    names = [alert["alert"] for alert in alerts()]
    assert len(set(names)) == len(names)
    for alert in alerts():
        assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}, alert["alert"]
        assert alert["labels"] == {"severity": "critical"}
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert alert["annotations"]["runbook_url"] == f"README.md#{alert['alert'].lower()}"
        assert alert["alert"].lower() in anchors, f"README has no section {alert['alert']}"
        if "for" in alert:
            promql_parser.parse_duration(alert["for"])


def test_the_alerts_cover_what_must_wake_someone():
    reads = {alert["alert"]: alert["expr"] for alert in alerts()}
    for series in ("latchkey_revocation_failures_total", "latchkey_revocation_lag_seconds_bucket",
                   "latchkey_catalog_last_sync_timestamp_seconds", "latchkey_catalog_sync_interval_seconds",
                   "latchkey_okta_log_lag_seconds", "latchkey_database_up"):
        assert any(series in expression for expression in reads.values()), series


def test_the_panels_an_alert_sends_you_to_are_on_the_dashboard():
    titles = {panel["title"] for panel in panels()}
    for alert in alerts():
        for title in re.findall(r'"([^"]+)"', alert["annotations"]["description"]):
            assert title in titles, f"{alert['alert']} names a panel {title!r} the dashboard lacks"


def test_the_dashboard_shows_what_an_operator_watches():
    queries = " ".join(dashboard_queries().values())
    for series in ("latchkey_requests", "latchkey_approval_latency_seconds_bucket",
                   "latchkey_provisioning_latency_seconds_bucket", "latchkey_revocation_lag_seconds_bucket",
                   "latchkey_revocation_failures_total", "latchkey_connector_errors_total",
                   "latchkey_connector_rate_limit_wait_seconds_count",
                   "latchkey_catalog_last_sync_timestamp_seconds", "latchkey_okta_log_lag_seconds"):
        assert series in queries, series


def test_every_panel_has_its_own_place_and_queries_the_chosen_data_source():
    """Panels inside the 24-column grid, none overlapping another; ids unique; every query goes
    to the `datasource` variable, so the dashboard imports into any Grafana."""
    everything = dashboard()["panels"]
    assert len({p["id"] for p in everything}) == len(everything)
    taken: set[tuple[int, int]] = set()
    for panel in everything:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                 for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels():
        assert panel["datasource"] == source and panel["targets"], panel["title"]
        assert all(target["datasource"] == source for target in panel["targets"]), panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
    [variable] = [v for v in dashboard()["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
