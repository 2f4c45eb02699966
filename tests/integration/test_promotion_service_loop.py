"""The long-running service (no --once) promotes on its cron schedule and skips a paused lane;
SIGTERM stops it cleanly."""

import json
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests

from tests.fixtures.hub import free_port
from tests.fixtures.promotion import (
    PROJECT,
    create_lanes,
    merge_change,
    promo_seed,
    run_containers,
    service_env,
    settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def gitlab_seed():
    return promo_seed()


def start_service(tmp_path, gitlab, config):
    """The service as the hub starts it, on a free port, logging to tmp_path/service.log:
    (process, port, the open log file)."""
    port = free_port()
    env = {
        **service_env(gitlab, config),
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/promotion/",
    }
    log = open(tmp_path / "service.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub_ds.promotion"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return proc, port, log


def test_every_minute_lane_promotes_on_its_tick_and_the_paused_lane_does_not(
    gitlab_server, docker_client, singleuser_image, tmp_path
):
    project = create_lanes(gitlab_server)
    merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('scheduled')\n"}, "Scheduled change")
    main_head = project.branches.get("main").commit["id"]
    production_before = project.branches.get("production").commit["id"]
    config = settings(gitlab_server)
    config["projects"][0]["lanes"] = [
        {"from": "main", "to": "staging", "schedule": "* * * * *", "paused": False},
        {"from": "staging", "to": "production", "schedule": "* * * * *", "paused": True},
    ]
    proc, port, log = start_service(tmp_path, gitlab_server, config)
    try:
        deadline = time.monotonic() + 150  # the next minute boundary, plus the clean run
        while time.monotonic() < deadline and project.branches.get("staging").commit["id"] != main_head:
            assert proc.poll() is None, (tmp_path / "service.log").read_text()[-3000:]
            time.sleep(1)
        assert project.branches.get("staging").commit["id"] == main_head, (tmp_path / "service.log").read_text()[-3000:]
        # Wait for the run to finish (tag, note), then past one more minute boundary.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not [
            t for t in project.tags.list(get_all=True) if t.name.startswith("promote/staging/")
        ]:
            time.sleep(1)
        # the run counts as finished once its notes are written too, just after the tag
        promoted_line = (
            f'jupyterhub_ds_promotion_runs_total{{lane="main->staging",project="{PROJECT}",status="promoted"}} 1.0'
        )
        deadline = time.monotonic() + 30
        while True:
            metrics = requests.get(f"http://127.0.0.1:{port}/services/promotion/metrics", timeout=10).text
            if promoted_line in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert promoted_line in metrics, metrics
        time.sleep(61 - time.gmtime().tm_sec)  # the paused lane's next tick passes too
        assert project.branches.get("production").commit["id"] == production_before
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
    assert code == 0
    text = (tmp_path / "service.log").read_text()
    events = [
        json.loads(line.split("] ", 1)[1]) for line in text.splitlines() if "jupyterhub_ds.promotion.audit]" in line
    ]
    promoted = [e for e in events if e["event"] == "promotion.run.promoted"]
    assert [(e["target"], e["commit"]) for e in promoted] == [("staging", main_head)]
    assert [e["trigger"] for e in events if e["event"] == "promotion.tick"] == ["schedule"] * len(
        [e for e in events if e["event"] == "promotion.tick"]
    )
    assert run_containers(docker_client) == []


def test_sigterm_stops_the_service_at_once_while_gitlab_is_down(tmp_path):
    """The hub stops its services with SIGINT, then SIGTERM, and kills them 15 s later (a hub
    stopped meanwhile leaves its proxy running). With GitLab down, the service's GitLab calls sit
    in python-gitlab's retries; it must still stop at once, and say that GitLab was unreachable."""
    down = SimpleNamespace(url=f"http://127.0.0.1:{free_port()}", admin_token="glpat-not-used-nobody-listens")
    proc, port, log = start_service(tmp_path, down, settings(down))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "service.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/services/promotion/metrics", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        time.sleep(3)  # its first look for merge requests to run is now between retries
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    text = (tmp_path / "service.log").read_text()
    assert code == 0 and took < 5, f"stopped after {took:.1f}s with {code}:\n{text[-3000:]}"
    assert "stopping: unfinished runs are resumed at the next start" in text
