"""IT's view of a real deployment: after a login, a spawn, a submit (and a refused one) and a
promotion, /hub/metrics and the promotion service's metrics show each with the right labels
and counts, the audit file holds each event in order and no token anywhere; then
`jupyterhub-ds doctor` passes on this deployment, and fails naming no-new-privileges once the
admin YAML turns it off.

One sandbox (tests/fixtures/sandbox.py: the GitLab stand-in, a real hub from an admin YAML,
real Docker) with an audit file, a promotion lane and bob as hub admin; the single-user image
must hold this tree's review extension (it reports the submits to the hub).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from jupyterhub_ds._version import __version__
from tests.fixtures.hub import free_port
from tests.fixtures.sandbox import GiB, password

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
CLONE = f"projects/{PROJECT}"
PROMOTION_TOKEN = "glpat-sandbox-admin-token-0001"  # root's token in the sandbox seed
LEAKY = "glpat-" + "Qw7" * 7


@pytest.fixture(scope="module")
def promotion_port():
    return free_port()


@pytest.fixture(scope="module")
def sandbox_hub_env():
    return {"JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": PROMOTION_TOKEN}


@pytest.fixture(scope="module")
def sandbox_config_d():
    # the hub reads the user containers' Docker stats every 2 s here (30 s by default)
    return {"50-stats.py": "c.ContainerStats.interval = 2\n"}


@pytest.fixture(scope="module")
def sandbox_yaml_changes(promotion_port):
    def change(config):
        config["hub"].update(admin_users=["bob"], single_origin_reason="the test hub answers on loopback only")
        config["audit"] = {"path": "audit.jsonl"}  # beside the admin YAML
        config["promotion"] = {
            "port": promotion_port,
            "timezone": "UTC",
            "projects": [
                {
                    "path": PROJECT,
                    "image": f"jupyterhub-ds/singleuser:{__version__}",
                    "profile": "small",
                    "notebooks": ["eda.py"],
                    "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
                }
            ],
        }
        return config

    return change


def notebook(source, outputs=()):
    cell = {
        "cell_type": "code",
        "execution_count": 1 if outputs else None,
        "metadata": {},
        "outputs": list(outputs),
        "source": source,
    }
    return {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Churn"}, cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))))


def hub_metrics(sandbox):
    r = requests.get(
        f"{sandbox.hub.url}/hub/metrics", headers={"Authorization": f"token {sandbox.hub.admin_token}"}, timeout=30
    )
    assert r.status_code == 200, r.text[:500]
    return samples(r.text)


def audit_events(sandbox):
    path = sandbox.yaml_path.parent / "audit.jsonl"
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def test_login_spawn_submit_and_promotion_show_in_metrics_and_audit_trail(sandbox):
    hub = sandbox.hub
    alice = sandbox.login("alice")
    sandbox.start_server("alice", {"profile": "small"})
    alice_token = sandbox.user_token("alice")
    server = sandbox.server_url("alice")
    auth = {"Authorization": f"token {alice_token}"}
    wait_for(lambda: sandbox.exec("alice", f"test -d /home/jovyan/{CLONE}/.git")[0] == 0, 90, "the workspace clone")

    # --- a submit, and one the gates refuse (a token in an output) ---------------------------
    def save(path, nb):
        r = requests.put(
            f"{server}api/contents/{path}",
            json={"type": "notebook", "format": "json", "content": nb},
            headers=auth,
            timeout=60,
        )
        assert r.status_code in (200, 201), r.text[:500]

    def submit(path, title):
        return requests.post(
            f"{server}jupyterhub-ds/review/submit", json={"path": path, "title": title}, headers=auth, timeout=180
        )

    save(
        f"{CLONE}/leaky.ipynb",
        notebook("print(token)", [{"output_type": "stream", "name": "stdout", "text": f"{LEAKY}\n"}]),
    )
    refused = submit(f"{CLONE}/leaky.ipynb", "leaky")
    assert refused.status_code == 422, refused.text[:500]
    save(f"{CLONE}/churn.ipynb", notebook("rate = 0.1\nprint(rate)"))
    submitted = submit(f"{CLONE}/churn.ipynb", "Churn rate")
    assert submitted.status_code == 200, submitted.text[:1000]
    mr = submitted.json()["mr"]

    # --- bob (hub admin) promotes main -> staging after the merge request is merged ----------
    gl = sandbox.gitlab.client(sandbox.gitlab.admin_token).projects.get(PROJECT)
    gl.branches.create({"branch": "staging", "ref": "main"})
    gl.mergerequests.get(mr["iid"]).merge()
    bob_token = sandbox.user_token("bob")
    service = f"{hub.url}/services/promotion/"
    wait_for(
        lambda: (
            requests.get(service + "api/lanes", headers={"Authorization": f"token {bob_token}"}, timeout=30).status_code
            == 200
        ),
        60,
        "the promotion service",
    )
    r = requests.post(
        service + "api/run-now?wait=1",
        json={"project": PROJECT, "source": "main"},
        headers={"Authorization": f"token {bob_token}"},
        timeout=600,
    )
    assert r.status_code == 200, r.text[:1000]
    run = r.json()["run"]
    assert run["status"] == "promoted", run["error"] + "\n" + run["log_tail"]

    # --- /hub/metrics (a token with read:metrics) ----------------------------------------------
    found = wait_for(
        lambda: (
            lambda m: (
                m
                if metric(m, "jupyterhub_ds_review_submissions_total", outcome="submitted")
                and metric(m, "jupyterhub_ds_cpu_usage_cores", profile="small") is not None
                else None
            )
        )(hub_metrics(sandbox)),
        60,
        "the submit's and the stats' metrics",
    )
    assert metric(found, "jupyterhub_ds_spawns_total", profile="small", outcome="success") == 1
    assert metric(found, "jupyterhub_ds_spawns_total", profile="small", outcome="failure") == 0
    assert metric(found, "jupyterhub_ds_spawns_total", profile="large", outcome="success") == 0  # every profile
    assert metric(found, "jupyterhub_ds_spawn_duration_seconds_count", profile="small", outcome="success") == 1
    assert 0 < metric(found, "jupyterhub_ds_spawn_duration_seconds_sum", profile="small", outcome="success") < 120
    assert metric(found, "jupyterhub_ds_running_servers", profile="small") == 1
    assert metric(found, "jupyterhub_ds_cpu_limit_cores", profile="small") == 1.0
    assert metric(found, "jupyterhub_ds_memory_limit_bytes", profile="small") == GiB
    assert 0 < metric(found, "jupyterhub_ds_memory_usage_bytes", profile="small") < GiB
    assert 0 <= metric(found, "jupyterhub_ds_cpu_usage_cores", profile="small") <= 1.5
    assert time.time() - metric(found, "jupyterhub_ds_container_stats_timestamp_seconds") < 60
    assert metric(found, "jupyterhub_ds_review_submissions_total", outcome="submitted") == 1
    assert metric(found, "jupyterhub_ds_review_submissions_total", outcome="refused") == 1
    assert metric(found, "jupyterhub_ds_review_gate_refusals_total", gate="secrets") == 1
    assert metric(found, "jupyterhub_ds_review_gate_refusals_total", gate="paired") == 0
    assert metric(found, "jupyterhub_ds_review_mr_latency_seconds_count") == 1
    assert metric(found, "jupyterhub_ds_server_events_refused_total", reason="invalid") == 0
    assert requests.get(f"{hub.url}/hub/metrics", timeout=30).status_code == 403  # metrics.require_auth
    promotion = samples(
        requests.get(service + "metrics", timeout=30, headers={"Authorization": f"token {hub.admin_token}"}).text
    )
    lane = {"project": PROJECT, "lane": "main->staging"}
    assert metric(promotion, "jupyterhub_ds_promotion_runs_total", **lane, status="promoted") == 1
    assert metric(promotion, "jupyterhub_ds_promotion_consecutive_failures", **lane) == 0
    assert time.time() - metric(promotion, "jupyterhub_ds_promotion_last_success_timestamp_seconds", **lane) < 600

    # --- the audit file: each event, in order, no token, no notebook content -------------------
    alice.get(f"{hub.url}/hub/logout", timeout=30)
    path, events = wait_for(
        lambda: (lambda p_e: p_e if any(e.get("action") == "logout" for e in p_e[1]) else None)(audit_events(sandbox)),
        30,
        "the logout event",
    )
    steps = [(e.get("action"), e.get("user") or e.get("username")) for e in events]
    expected = [
        ("login", "alice"),
        ("groups.changed", "alice"),
        ("start", "alice"),
        ("server.spawn", "alice"),
        ("review.refused", "alice"),
        ("review.submit", "alice"),
        ("promotion.run.started", None),
        ("promotion.run.promoted", None),
        ("logout", "alice"),
    ]
    positions = [steps.index(step) for step in expected]
    assert positions == sorted(positions), steps
    spawn = next(e for e in events if e.get("action") == "server.spawn")
    assert (spawn["profile"], spawn["image"]) == ("small", "jupyterhub-ds/singleuser:latest")
    assert spawn["limits"] == {"cpu_limit": 1.0, "mem_limit": GiB, "pids_limit": 200, "gpus": 0}
    assert spawn["actor"] == "test-admin"  # the harness's admin service started it through the API
    assert ("admin.request", "alice") in steps and any(e.get("actor") == "test-admin" for e in events)
    review = next(e for e in events if e.get("action") == "review.submit")
    assert review["paths"] == [f"{CLONE}/churn.ipynb", f"{CLONE}/churn.py"] and review["mr_iid"] == mr["iid"]
    assert review["__schema__"].endswith("/events/review") and review["project"] == PROJECT
    assert next(e for e in events if e.get("action") == "review.refused")["gates"] == ["secrets"]
    promoted = next(e for e in events if e.get("action") == "promotion.run.promoted")
    assert (promoted["run_id"], promoted["target"]) == (run["run_id"], "staging")
    text = path.read_text()
    state = hub.api("GET", "/users/alice").json()["auth_state"]
    rc, server_token = sandbox.exec("alice", "printenv JUPYTERHUB_API_TOKEN")
    secrets = {
        "hub admin token": hub.admin_token,
        "alice's token": alice_token,
        "bob's token": bob_token,
        "server token": server_token.strip(),
        "GitLab access token": state["access_token"],
        "GitLab refresh token": state["refresh_token"],
        "crypt key": hub.crypt_key,
        "promotion token": PROMOTION_TOKEN,
        "leaked token": LEAKY,
        "OAuth client secret": sandbox.hub.extra_env["GITLAB_CLIENT_SECRET"],
    }
    assert rc == 0 and all(len(v) >= 16 for v in secrets.values())
    assert [k for k, v in secrets.items() if v in text] == []
    assert "rate = 0.1" not in text and "print(token)" not in text
    # the reader: alice's review events only
    proc = subprocess.run(
        [sys.executable, "-m", "jupyterhub_ds", "audit", "--path", str(path), "--user", "alice", "--action", "review"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["action"] for line in proc.stdout.splitlines()] == ["review.refused", "review.submit"]
    assert password("alice") not in text


def doctor(sandbox):
    env = {**os.environ, "JUPYTERHUB_CRYPT_KEY": sandbox.hub.crypt_key}  # the hub's environment
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyterhub_ds",
            "doctor",
            "--config",
            str(sandbox.yaml_path),
            "--proxy-api-url",
            f"http://127.0.0.1:{sandbox.hub.proxy_api_port}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_doctor_passes_on_this_deployment(sandbox):
    sandbox.login("alice")
    if not sandbox.containers("alice"):
        sandbox.start_server("alice", {"profile": "small"})
    proc = doctor(sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    for expected in (
        f"PASS  user container {sandbox.container_name('alice')} (alice, small):",
        f"PASS  user network {sandbox.network}:",
        "PASS  reach hub API:",
        "PASS  no proxy API:",
        "PASS  no promotion service port:",
        "PASS  TLS: local only",
        "PASS  crypt key:",
        "PASS  subdomains: one origin for every server, accepted: the test hub answers on loopback only",
        "PASS  image jupyterhub-ds/singleuser:latest:",
        "PASS  audit trail:",
        "PASS  dockerd:",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, proc.stdout)
    assert sandbox.docker.containers.list(all=True, filters={"label": "org.jupyterhub-ds.doctor"}) == []


def test_doctor_fails_naming_no_new_privileges_when_the_admin_yaml_turns_it_off(sandbox):
    original = sandbox.yaml_path.read_text()
    config = yaml.safe_load(original)
    config.setdefault("hardening", {})["no_new_privileges"] = False
    try:
        if sandbox.containers("alice"):
            sandbox.stop_server("alice")
        sandbox.yaml_path.write_text(yaml.safe_dump(config))
        sandbox.hub.restart()
        sandbox.start_server("alice", {"profile": "small"})
        proc = doctor(sandbox)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        [failed] = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
        assert failed.startswith(
            f"FAIL  user container {sandbox.container_name('alice')} (alice, small): lacks "
            "no-new-privileges (hardening.no_new_privileges)"
        ), failed
        assert "1 failed (user container" in proc.stderr
    finally:
        if sandbox.containers("alice"):
            sandbox.stop_server("alice")
        sandbox.yaml_path.write_text(original)
        sandbox.hub.restart()
