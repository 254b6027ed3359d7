"""Generated rules: up to date, valid for promtool, unit-tested, and documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring import artifacts, rule_tests, rules, yamltext
from monitoring.__main__ import main
from monitoring.slos import SLOS

PACKAGE = artifacts.PACKAGE_DIR
RULES_DIR = PACKAGE / "rules"
RUNBOOK = PACKAGE.parent / rules.RUNBOOK


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        # A missing tool must fail the run, not skip it (house style 6.7).
        pytest.fail(
            "promtool is not installed: apt-get install -y --no-install-recommends prometheus"
        )
    return path


def _promtool(promtool: str, *args: str, cwd: Path = PACKAGE) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_checked_in_files_are_what_render_produces():
    assert artifacts.differences() == [], "run: python -m monitoring render"


def test_check_command_fails_on_drift_and_render_repairs_it(tmp_path, capsys):
    # Given a copy of the generated files with one edited and one left over
    for relative, content in artifacts.generated_files().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(content, encoding="utf-8")
    edited = tmp_path / "rules/slo.rules.yml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("14.4", "20"), encoding="utf-8")
    (tmp_path / "rules/old.rules.yml").write_text("groups: []\n", encoding="utf-8")

    # When checked, then rendered, then checked again
    assert main(["--root", str(tmp_path), "check"]) == 1
    assert main(["--root", str(tmp_path), "render"]) == 0
    assert main(["--root", str(tmp_path), "check"]) == 0

    out = capsys.readouterr()
    assert "out of date: rules/slo.rules.yml" in out.err
    assert "out of date: rules/old.rules.yml" in out.err
    assert not (tmp_path / "rules/old.rules.yml").exists()


def test_promtool_accepts_the_rule_files(promtool):
    files = sorted(str(path) for path in RULES_DIR.glob("*.rules.yml"))
    assert len(files) == 2

    _promtool(promtool, "check", "rules", *files)


def test_promtool_accepts_the_scrape_config_and_its_rule_files(promtool):
    out = _promtool(promtool, "check", "config", "prometheus.yml")

    assert "2 rule files found" in out


@pytest.mark.parametrize("test_file", sorted(path.name for path in RULES_DIR.glob("*.test.yml")))
def test_promtool_unit_tests_pass(promtool, test_file):
    _promtool(promtool, "test", "rules", test_file, cwd=RULES_DIR)


def test_prometheus_scrapes_edge_worker_and_relay_by_service_name():
    config = yaml.safe_load((PACKAGE / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    targets = {
        name: [t for group in jobs[name]["static_configs"] for t in group["targets"]]
        for name in rules.SCRAPE_JOBS
    }
    assert targets == {"edge": ["edge:8000"], "worker": ["worker:9191"], "relay": ["relay:9192"]}
    assert jobs["edge"]["metrics_path"] == "/metrics"


def _unit_test_expectations() -> dict[str, list[int]]:
    """alertname -> number of expected alerts in every alert_rule_test naming it."""
    found: dict[str, list[int]] = {}
    for path in RULES_DIR.glob("*.test.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["tests"]:
            for check in group.get("alert_rule_test", []):
                found.setdefault(check["alertname"], []).append(len(check["exp_alerts"]))
    return found


def test_every_alert_is_proven_both_to_fire_and_to_stay_quiet():
    expectations = _unit_test_expectations()

    for name in rules.alert_names():
        counts = expectations.get(name, [])
        assert any(counts), f"{name} is never expected to fire"
        assert 0 in counts, f"{name} is never expected to stay quiet"


def test_each_slo_has_the_three_workbook_burn_rate_alerts():
    document = yaml.safe_load((RULES_DIR / "slo.rules.yml").read_text(encoding="utf-8"))
    groups = {group["name"]: group for group in document["groups"]}

    for slo in SLOS:
        alerts = [rule for rule in groups[f"slo-{slo.name}"]["rules"] if "alert" in rule]
        windows = [(a["labels"]["severity"], a["expr"].split("\n")[0]) for a in alerts]
        budget = f"(1 - {slo.objective})"
        assert windows == [
            ("page", f'slo:sli_error:ratio_rate1h{{slo="{slo.name}"}} > (14.4 * {budget})'),
            ("page", f'slo:sli_error:ratio_rate6h{{slo="{slo.name}"}} > (6 * {budget})'),
            ("ticket", f'slo:sli_error:ratio_rate3d{{slo="{slo.name}"}} > (1 * {budget})'),
        ]


def test_every_alert_has_a_runbook_section():
    headings = {
        line.lstrip("#").strip()
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("### ")
    }

    missing = [name for name in rules.alert_names() if name not in headings]
    assert missing == []


@pytest.mark.parametrize(
    "data",
    [
        rules.slo_rule_groups(),
        rules.operations_rule_groups(),
        rule_tests.operations_tests(),
        rule_tests.slo_tests(rule_tests.BURST_SCENARIOS, "5m"),
    ],
    ids=["slo.rules", "operations.rules", "operations.test", "slo-burst.test"],
)
def test_yaml_writer_output_reads_back_as_the_same_data(data):
    assert yaml.safe_load(yamltext.dump(data, header="a comment")) == data


def test_yaml_writer_quotes_what_yaml_would_misread():
    text = yamltext.dump({"a": "yes", "b": "3d", "c": "it's", "d": "x: y", "e": "ok:"})

    assert yaml.safe_load(text) == {"a": "yes", "b": "3d", "c": "it's", "d": "x: y", "e": "ok:"}
