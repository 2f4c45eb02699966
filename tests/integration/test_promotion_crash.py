"""A promotion killed with SIGKILL in any phase is resumed by the next start: exactly one
promotion, the tag and the branch agree, one note per MR, no clean-run container left behind."""

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.fixtures.promotion import (
    PROJECT,
    create_lanes,
    merge_change,
    promo_seed,
    run_containers,
    run_once,
    service_env,
    settings,
)
from tests.mocking import CRASH_POINTS

pytestmark = pytest.mark.integration

FAULT_POINTS = list(CRASH_POINTS)


@pytest.fixture
def gitlab_seed():
    return promo_seed()


@pytest.fixture
def lanes(gitlab_server, docker_client, singleuser_image):
    return create_lanes(gitlab_server)


def assert_promoted_exactly_once(gitlab_server, project, workdir, docker_client, mr_iid, main_head):
    # A further run finds nothing new to promote.
    again = run_once(gitlab_server, settings(gitlab_server), workdir, "--run-now", f"{PROJECT}:main")
    assert again.returncode == 0 and again.runs == [], again.stderr[-2000:]
    assert project.branches.get("staging").commit["id"] == main_head
    tags = [t for t in project.tags.list(get_all=True) if t.name.startswith("promote/")]
    assert [(t.name.split("/")[1], t.commit["id"]) for t in tags] == [("staging", main_head)]
    notes = [n.body for n in project.mergerequests.get(mr_iid).notes.list(get_all=True) if "Promoted to" in n.body]
    assert len(notes) == 1 and tags[0].name in notes[0]
    db = sqlite3.connect(workdir / "promotion.sqlite")
    rows = db.execute('select status, phase, tag, "commit" from promotion_runs').fetchall()
    assert [r for r in rows if r[0] == "promoted"] == [("promoted", "done", tags[0].name, main_head)]
    assert [r for r in rows if r[0] == "running"] == []
    assert run_containers(docker_client) == []


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_sigkill_at_each_phase_then_restart_promotes_exactly_once(gitlab_server, lanes, tmp_path, docker_client, point):
    mr = merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v3')\n"}, "Train v3")
    main_head = lanes.branches.get("main").commit["id"]

    killed = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main", crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    phase = (
        sqlite3.connect(tmp_path / "promotion.sqlite").execute("select phase, status from promotion_runs").fetchall()
    )
    assert phase and phase[0][1] == "running", phase
    moved = lanes.branches.get("staging").commit["id"] == main_head
    assert moved == (point in ("after:push", "before:tag", "after:tag", "before:note")), (phase, killed.stderr[-2000:])

    resumed = run_once(gitlab_server, settings(gitlab_server), tmp_path)  # no --run-now: only the resume
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [(r["status"], r["commit"]) for r in resumed.runs] == [("promoted", main_head)], resumed.stdout
    assert_promoted_exactly_once(gitlab_server, lanes, tmp_path, docker_client, mr.iid, main_head)


def test_sigkill_while_the_clean_run_container_runs_leaves_nothing_half_done(
    gitlab_server, lanes, tmp_path, docker_client
):
    slow = "# %%\nimport time\ntime.sleep(8)\nprint('slow but fine')\n"
    mr = merge_change(gitlab_server, {"notebooks/train.py": slow}, "Slow train")
    main_head = lanes.branches.get("main").commit["id"]
    env = service_env(gitlab_server, settings(gitlab_server))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub_ds.promotion", "--once", "--run-now", f"{PROJECT}:main"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not run_containers(docker_client) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert [c.status for c in run_containers(docker_client)] in (["running"], ["created"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert len(run_containers(docker_client)) == 1  # left behind by the killed service
    assert lanes.branches.get("staging").commit["id"] != main_head

    resumed = run_once(gitlab_server, settings(gitlab_server), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [(r["status"], r["commit"]) for r in resumed.runs] == [("promoted", main_head)]
    assert_promoted_exactly_once(gitlab_server, lanes, tmp_path, docker_client, mr.iid, main_head)


def test_push_refused_by_gitlab_keeps_the_run_open_until_the_next_tick_finishes_it(
    gitlab_server, lanes, tmp_path, docker_client
):
    mr = merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v4')\n"}, "Train v4")
    main_head = lanes.branches.get("main").commit["id"]
    developer = gitlab_server.user_token("alice", ["api"])  # may push, but not to protected staging

    stalled = run_once(
        gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main", token=developer
    )
    assert stalled.returncode == 1
    [run] = stalled.runs
    assert (run["status"], run["phase"]) == ("running", "pushing"), run["error"]
    assert run["error"].startswith("push failed, retried at the next tick: git push")
    assert "You are not allowed to push code to protected branches" in run["error"]
    assert developer not in stalled.stdout + stalled.stderr
    assert lanes.branches.get("staging").commit["id"] != main_head

    # The next tick, with a token that may push, finishes the same run (no second clean run).
    fixed = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert [(r["run_id"], r["status"]) for r in fixed.runs] == [(run["run_id"], "promoted")]
    assert_promoted_exactly_once(gitlab_server, lanes, tmp_path, docker_client, mr.iid, main_head)
