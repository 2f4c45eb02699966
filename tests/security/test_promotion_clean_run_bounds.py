"""Hole: the promotion service's clean run (the "gate"). A project with ``profile: null`` (or a
profile without ``pids_limit``) ran its clean-run container unlimited on the hub's Docker host; the output archive and
the log were read without a size cap; the log tail went into the GitLab tag message; the
service's metrics needed no login although ``metrics.require_auth`` defaults to true.

Controls (promotion/clean_run.py, decisions.tag_message, web.MetricsHandler): default CPU, memory
and pids limits for every clean run; byte caps on everything read back; no log or test output in
tags; metrics behind a hub token with ``read:metrics``.
"""

import json

import pytest
import requests

from tests.fixtures.promotion import (
    PROJECT,
    create_lanes,
    merge_change,
    notebook,
    promo_seed,
    run_containers,
    run_once,
    settings,
)
from tests.integration.test_promotion_hub import ADMIN, USER, call, promotion_hub  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

CGROUP = """
def limit(v2, v1):
    import os
    for path in (v2, v1):
        if os.path.exists(path):
            return open(path).read().split()[0]
limits = {"memory": limit("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
          "pids": limit("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"),
          "cpu": limit("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")}
print(limits)
assert all(v not in (None, "max", "-1") for v in limits.values()), f"unlimited: {limits}"
"""


@pytest.fixture
def gitlab_seed():
    return promo_seed()


@pytest.fixture
def lanes(gitlab_server, docker_client, singleuser_image):
    return create_lanes(gitlab_server)


def test_a_clean_run_without_profile_limits_still_runs_limited_and_its_tag_carries_no_log(
    gitlab_server, lanes, tmp_path
):
    merge_change(
        gitlab_server,
        {"notebooks/prepare.ipynb": notebook(CGROUP, "sample = 1"), "notebooks/train.py": "# %%\nprint('trained')\n"},
        "Limits probe",
    )
    config = settings(gitlab_server, limits={})  # what profile: null gives the service
    proc = run_once(gitlab_server, config, tmp_path, "--run-now", f"{PROJECT}:main")
    [run] = proc.runs
    assert run["status"] == "promoted", proc.stderr[-3000:]
    tag = lanes.tags.get(run["tag"])
    record = json.loads(tag.message.split("--- jupyterhub-ds promotion record ---", 1)[1])
    assert "log_tail" not in record and "[clean run " not in tag.message
    # the service still keeps the log for admins
    assert "[clean run " in (tmp_path / "promotion.sqlite").read_bytes().decode(errors="replace")


def test_a_clean_run_that_writes_a_flood_of_output_is_refused_at_the_cap(gitlab_server, lanes, tmp_path, docker_client):
    flood = notebook("open('/tmp/jupyterhub-ds-run/out/flood.bin', 'wb').write(b'x' * (300 * 1024 * 1024))")
    merge_change(gitlab_server, {"notebooks/prepare.ipynb": flood, "notebooks/train.py": "# %%\nprint(1)\n"}, "Flood")
    proc = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    [run] = proc.runs
    assert run["status"] == "failed" and "larger than 256 MiB" in run["error"], run
    assert lanes.branches.get("staging").commit["id"] != lanes.branches.get("main").commit["id"]
    assert run_containers(docker_client) == []
    assert not list(tmp_path.rglob("flood.bin"))


def test_the_services_metrics_need_a_token_with_read_metrics(promotion_hub):  # noqa: F811
    url = promotion_hub.service_url + "metrics"
    assert requests.get(url, timeout=30).status_code == 403
    assert call(promotion_hub, USER, "GET", "metrics").status_code == 403  # a user's token: no read:metrics
    r = call(promotion_hub, ADMIN, "GET", "metrics")
    assert r.status_code == 200 and "jupyterhub_ds_promotion" in r.text
