"""The Prometheus alert rules and the Grafana dashboard in hub_config/monitoring: promtool
checks the rules and runs their tests (tests/unit/prometheus/alerts_test.yml), and every
metric they name is one the hub or the promotion service exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from jupyterhub_ds import metrics  # noqa: F401  (registers the hub's metrics)
from jupyterhub_ds.promotion.observe import Metrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "hub_config" / "monitoring" / "prometheus-alerts.yml"
DASHBOARD = ROOT / "hub_config" / "monitoring" / "grafana-dashboard.json"
RULE_TESTS = Path(__file__).parent / "prometheus" / "alerts_test.yml"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def promtool():
    found = shutil.which("promtool") or ROOT / ".work" / "prometheus" / "usr" / "bin" / "promtool"
    if not Path(found).exists():
        pytest.fail(
            "promtool not found: ./dev.sh test installs it (from Debian's prometheus package into "
            ".work/prometheus), or apt-get install prometheus",
            pytrace=False,
        )
    return str(found)


def exported():
    names = set()
    for registry in (REGISTRY, Metrics().registry):
        for family in registry.collect():
            names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
    return names


def named(expressions):
    return {m for e in expressions for m in re.findall(r"\bjupyterhub_ds_[a-z_]+", e)}


def test_promtool_checks_the_rules_and_their_tests_pass():
    check = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_rules_and_dashboard_name_only_exported_metrics():
    rules = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert named(rules) and named(queries)
    assert named(rules) - exported() == set()
    assert named(queries) - exported() == set()
    # the dashboard shows every metric of ours (a new one needs a panel)
    ours = {n for n in exported() if n.startswith("jupyterhub_ds_") and not n.endswith(("_sum", "_count"))}
    shown = {re.sub(r"_bucket$", "", n) for n in named(queries)}
    assert {n for n in ours if re.sub(r"_bucket$", "", n) not in shown} == set()
