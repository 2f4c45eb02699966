"""The promotion service, run as a real process against the GitLab stand-in and real Docker:
a merged MR is gated in a fresh container and promoted; a raising or too-slow notebook is not."""

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.fixtures.promotion import (
    IMAGE,
    PROJECT,
    create_lanes,
    merge_change,
    notebook,
    promo_seed,
    run_containers,
    run_once,
    settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def gitlab_seed():
    return promo_seed()


@pytest.fixture
def lanes(gitlab_server, docker_client, singleuser_image):
    return create_lanes(gitlab_server)


def heads(project):
    return {b: project.branches.get(b).commit["id"] for b in ("main", "staging", "production")}


def promotion_tags(project, lane="staging"):
    return [t for t in project.tags.list(get_all=True) if t.name.startswith(f"promote/{lane}/")]


def test_merged_mr_is_gated_and_staging_fast_forwarded_with_tag_note_and_record(
    gitlab_server, lanes, tmp_path, docker_client
):
    mr = merge_change(
        gitlab_server,
        {"notebooks/train.py": "# %%\nimport json\nprint('v2', json.load(open('prepared.json'))['sample'])\n"},
        "Train v2",
    )
    main_head = lanes.branches.get("main").commit["id"]
    assert mr.state == "merged" and lanes.branches.get("staging").commit["id"] != main_head

    proc = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    assert proc.returncode == 0, proc.stderr[-3000:]
    [run] = proc.runs
    assert (run["status"], run["phase"], run["commit"], run["target"]) == ("promoted", "done", main_head, "staging")

    # The branch moved by a fast-forward to exactly the gated commit; production did not move.
    after = heads(lanes)
    assert after["staging"] == main_head and after["production"] != main_head
    # An annotated tag promote/staging/<UTC> on that commit, carrying the record.
    [tag] = promotion_tags(lanes)
    assert tag.name == run["tag"] and tag.commit["id"] == main_head
    assert "--- jupyterhub-ds promotion record ---" in tag.message
    carried = json.loads(tag.message.split("--- jupyterhub-ds promotion record ---", 1)[1])
    assert carried["commit"] == main_head and carried["image_digest"].startswith("sha256:")
    # The merged MR got a note naming the lane and the tag.
    notes = [n.body for n in lanes.mergerequests.get(mr.iid).notes.list(get_all=True)]
    assert any("Promoted to staging" in b and tag.name in b for b in notes), notes

    # The record in the store: image digest, packages, parameters, seed, per-notebook timings.
    db = sqlite3.connect(tmp_path / "promotion.sqlite")
    row = db.execute(
        "select image_id, image_digest, pip_freeze, parameters, seed, status, notebooks from promotion_runs"
    ).fetchone()
    image_id, digest, freeze, parameters, seed, status, notebooks = row
    assert image_id == docker_client.images.get(IMAGE).id
    assert digest.startswith("sha256:") or "@sha256:" in digest
    assert "nbclient==" in freeze and "ipykernel==" in freeze
    assert json.loads(parameters) == {"sample": 0.25} and seed == 42 and status == "promoted"
    nbs = json.loads(notebooks)
    assert [(n["path"], n["status"]) for n in nbs] == [("notebooks/prepare.ipynb", "ok"), ("notebooks/train.py", "ok")]
    assert all(n["duration"] > 0 for n in nbs)
    # Executed notebooks are kept as artifacts, with the injected parameters and outputs.
    executed = Path(run["artifacts"]) / "out" / "notebooks" / "notebooks"
    train = json.loads((executed / "train.ipynb").read_text())
    assert "v2 0.25" in json.dumps(train["cells"])
    prepare = json.loads((executed / "prepare.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in prepare["cells"])
    assert run_containers(docker_client) == []

    # Running again promotes nothing more (already at main's head).
    again = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    assert again.returncode == 0 and again.runs == []
    assert len(promotion_tags(lanes)) == 1


def test_raising_notebook_moves_nothing_and_records_the_failing_cell(gitlab_server, lanes, tmp_path, docker_client):
    before = heads(lanes)
    bad = notebook("x = 1", "raise ValueError('churn data is empty')", "print('never')", parameters="sample = 1.0")
    merge_change(gitlab_server, {"notebooks/prepare.ipynb": bad}, "Break prepare")

    proc = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    assert proc.returncode == 1
    [run] = proc.runs
    assert run["status"] == "failed" and run["tag"] is None
    [prepare, train] = run["notebooks"]
    assert prepare["status"] == "failed" and prepare["failed_cell"] == 3  # parameters cell, x = 1, raise
    assert "ValueError: churn data is empty" in prepare["error"]
    assert train["status"] == "not run"
    assert "notebooks/prepare.ipynb cell 3: ValueError: churn data is empty" in run["error"]
    after = heads(lanes)
    assert after["staging"] == before["staging"] and after["production"] == before["production"]
    assert promotion_tags(lanes) == [] and run_containers(docker_client) == []


def test_notebook_sleeping_past_cell_timeout_fails_and_its_container_is_removed(
    gitlab_server, lanes, tmp_path, docker_client
):
    before = heads(lanes)
    slow = notebook("import time\ntime.sleep(120)", parameters="sample = 1.0")
    merge_change(gitlab_server, {"notebooks/prepare.ipynb": slow}, "Slow prepare")

    proc = run_once(
        gitlab_server, settings(gitlab_server, cell_timeout=3), tmp_path, "--run-now", f"{PROJECT}:main", timeout=180
    )
    assert proc.returncode == 1
    [run] = proc.runs
    [prepare, _] = run["notebooks"]
    assert prepare["status"] == "timeout" and prepare["failed_cell"] == 2
    assert "did not finish within 3s" in prepare["error"]
    assert prepare["duration"] < 60
    assert heads(lanes)["staging"] == before["staging"] and promotion_tags(lanes) == []
    assert run_containers(docker_client) == []


def test_gate_past_run_timeout_is_killed_recorded_and_removed(gitlab_server, lanes, tmp_path, docker_client):
    before = heads(lanes)
    slow = notebook("import time\ntime.sleep(120)", parameters="sample = 1.0")
    merge_change(gitlab_server, {"notebooks/prepare.ipynb": slow}, "Very slow prepare")

    started = time.monotonic()
    proc = run_once(
        gitlab_server,
        settings(gitlab_server, cell_timeout=600),
        tmp_path,
        "--run-now",
        f"{PROJECT}:main",
        "--PromotionService.run_timeout=10",
        timeout=180,
    )
    assert time.monotonic() - started < 100
    assert proc.returncode == 1
    [run] = proc.runs
    assert (
        run["status"] == "failed" and "did not finish within run_timeout=10s; the container was killed" in run["error"]
    )
    assert heads(lanes)["staging"] == before["staging"] and promotion_tags(lanes) == []
    assert run_containers(docker_client) == []


def test_import_outside_the_allow_list_fails_the_gate(gitlab_server, lanes, tmp_path, docker_client):
    before = heads(lanes)
    uses_yaml = notebook(
        "import json, yaml\njson.dump({'rows': [1]}, open('prepared.json', 'w'))",
        "print(yaml.safe_dump({'a': 1}))",
        parameters="sample = 1.0",
    )
    merge_change(gitlab_server, {"notebooks/prepare.ipynb": uses_yaml}, "Prepare with yaml")

    proc = run_once(
        gitlab_server,
        settings(gitlab_server, allowed_packages=["numpy", "pandas"]),
        tmp_path,
        "--run-now",
        f"{PROJECT}:main",
    )
    assert proc.returncode == 1
    [run] = proc.runs
    assert all(n["status"] == "ok" for n in run["notebooks"])  # it ran fine, but is not allowed
    assert run["packages"]["problems"] == [
        "notebooks/prepare.ipynb imports yaml (distribution PyYAML), which is not on the allow-list; "
        "add it to allowed_packages or drop the import"
    ]
    assert run["error"].startswith("packages: notebooks/prepare.ipynb imports yaml")
    assert heads(lanes)["staging"] == before["staging"] and promotion_tags(lanes) == []


def test_project_tests_run_with_pytest_or_fail_naming_it(gitlab_server, lanes, tmp_path, docker_client, run_in_image):
    before = heads(lanes)
    merge_change(gitlab_server, {"tests/test_churn.py": "def test_ok():\n    assert True\n"}, "Add tests")
    has_pytest = run_in_image(IMAGE, "python", "-c", "import pytest", entrypoint="").returncode == 0

    proc = run_once(gitlab_server, settings(gitlab_server), tmp_path, "--run-now", f"{PROJECT}:main")
    [run] = proc.runs
    assert all(n["status"] == "ok" for n in run["notebooks"])
    if has_pytest:  # the image's owner added pytest: the project's tests run and pass
        assert proc.returncode == 0 and run["tests"]["status"] == "ok" and "1 passed" in run["tests"]["output"]
        return
    assert proc.returncode == 1 and run["tests"]["status"] == "failed"
    assert run["error"] == (
        "project tests: the project has tests but pytest is not installed in the image; "
        "add pytest to the project's image"
    )
    assert heads(lanes)["staging"] == before["staging"] and promotion_tags(lanes) == []
