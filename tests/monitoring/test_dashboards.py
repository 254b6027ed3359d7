"""Grafana dashboards: every query names only series and recording rules that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from monitoring import artifacts, grafana, metrics, rules
from monitoring.slos import SLOS

DASHBOARDS = artifacts.PACKAGE_DIR / "dashboards"
PROVISIONING = DASHBOARDS / "provisioning"
DASHBOARD_FILES = sorted(DASHBOARDS.glob("*.json"))

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLES = re.compile(r"\$\w+")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "inf", "nan",
    "by", "without", "on", "ignoring", "group_left", "group_right",
}  # fmt: skip


def referenced_names(expr: str) -> set[str]:
    """Metric and recording-rule names in a PromQL expression (functions excluded)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    text = _VARIABLES.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.groups()
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def _recording_rules() -> set[str]:
    names = set()
    for path in (artifacts.PACKAGE_DIR / "rules").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def _queries(dashboard: dict) -> list[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            definition = variable["definition"]
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", definition)
            assert match, definition
            exprs.append(match.group(1))
    return exprs


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_name_extractor_finds_metrics_and_skips_functions_labels_and_strings():
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(foo_bucket{route=~"$route",'
        'le="0.1"}[$__rate_interval]))) / on (slo) group_left bar:baz_ratio offset 1h '
        "and time() - max without (pid) (qux) > bool 1e-3"
    )

    assert referenced_names(expr) == {"foo_bucket", "bar:baz_ratio", "qux"}


def test_there_is_a_dashboard_for_each_area():
    assert {path.name for path in DASHBOARD_FILES} == {
        "slo-overview.json",
        "edge.json",
        "jobs.json",
        "outbox.json",
        "matching.json",
    }


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_query_references_only_existing_series_and_recording_rules(path):
    known = metrics.series_names() | _recording_rules()
    queries = _queries(_load(path))
    assert queries

    unknown = {name for expr in queries for name in referenced_names(expr)} - known
    assert unknown == set()


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_panel_uses_the_provisioned_datasource(path):
    provisioned = yaml.safe_load(
        (PROVISIONING / "datasources/prometheus.yml").read_text(encoding="utf-8")
    )
    uids = {source["uid"] for source in provisioned["datasources"]}
    dashboard = _load(path)

    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in uids
        assert {target["datasource"]["uid"] for target in panel["targets"]} <= uids


def test_dashboard_and_panel_ids_are_unique():
    dashboards = [_load(path) for path in DASHBOARD_FILES]

    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    for dashboard in dashboards:
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))


def test_slo_overview_shows_every_slo_error_budget_remaining():
    exprs = "\n".join(_queries(_load(DASHBOARDS / "slo-overview.json")))

    for slo in SLOS:
        assert f'{rules.BUDGET_REMAINING_RECORD}{{slo="{slo.name}"}}' in exprs


def test_dashboard_provider_reads_the_mounted_dashboards_directory():
    provider = yaml.safe_load(
        (PROVISIONING / "dashboards/zerocancer.yml").read_text(encoding="utf-8")
    )

    assert provider["providers"][0]["options"]["path"] == grafana.DASHBOARDS_PATH
