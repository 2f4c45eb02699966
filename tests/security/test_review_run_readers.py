"""Hole: a review run shows a merge request's code and everything its notebooks printed and drew.
Served by the promotion service to any hub user, it would show a private project's code and data
to people GitLab keeps out; served as the notebook wrote it, a notebook could run script in the
reader's browser on the service's origin.

Controls (promotion/web.py ReviewReader, review_runs.ReviewRuns.may_read, render.py): a run's page,
executed notebooks and records go only to people GitLab lists in the project (members/all:
direct, through a group or inherited) with Reporter or above, asked with the service's own token
(it holds no user's token and no hub scope to fetch one), for the hub user's name, which is their
GitLab username; hub admins get no exception. The pages carry a Content-Security-Policy without
script, fetch, form or framing, in a sandbox, with nosniff and no-store.

The real hub and the GitLab stand-in; the run is put in the service's record store before it
starts (no Docker: what is checked is who gets what, not the run).
"""

import copy
import re

import nbformat
import pytest
import requests

from jupyterhub_ds.promotion.records import ReviewRun, Store, utcnow
from jupyterhub_ds.promotion.render import render_notebook
from tests.fixtures.gitlab import DEFAULT_SEED
from tests.fixtures.promotion import call, start_promotion_hub

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
RUN = "0123456789abcdef"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; sandbox"
)
# alice: Developer and dave: Reporter of the project; bob: Maintainer of its group data-science (inherited);
# gus: Guest; carol: no membership; ghost: no GitLab user; ada: hub admin only
READERS, REFUSED = ("alice", "dave", "bob"), ("gus", "carol", "ghost", "ada")


@pytest.fixture
def gitlab_seed():
    seed = copy.deepcopy(DEFAULT_SEED)
    seed["users"].append({"username": "gus", "name": "Gus Guest", "email": "gus@example.com", "password": "gus-pass-1"})
    seed["users"].append({"username": "ada", "name": "Ada Admin", "email": "ada@example.com", "password": "ada-pass-1"})
    seed["projects"][0]["members"].append({"username": "gus", "access_level": 10})
    return seed


@pytest.fixture
def review_hub(gitlab_server, hub_factory, tmp_path):
    database = f"sqlite:///{tmp_path / 'promotion.sqlite'}"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "plot()",
            outputs=[
                nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                nbformat.v4.new_output(
                    "display_data", data={"text/html": "<b>rate</b><script>fetch('/hub/api/user')</script>"}
                ),
            ],
        )
    ]
    artifacts = tmp_path / "artifacts" / f"review-{RUN}"
    (artifacts / "html").mkdir(parents=True)
    (artifacts / "html" / "0.html").write_text(render_notebook(nbformat.writes(nb).encode(), "plot.py"))
    Store(database).add(
        ReviewRun(
            id=RUN,
            project=PROJECT,
            mr_iid=1,
            commit="c" * 40,
            source_branch="review/alice/plot",
            target_branch="main",
            queued_at=utcnow(),
            started_at=utcnow(),
            finished_at=utcnow(),
            status="passed",
            artifacts=str(artifacts),
            notebooks=[{"path": "plot.py", "status": "ok", "duration": 1.5, "html": True}],
            skipped=[],
            packages={},
        )
    )
    config = {
        "database_url": database,
        "projects": [
            {
                "path": PROJECT,
                "image": "jupyterhub-ds/singleuser:0.1.0",
                "notebooks": ["analysis/churn.py"],
                "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
            }
        ],
        "gitlab_url": gitlab_server.url,
        "metrics_require_auth": False,
    }
    return start_promotion_hub(
        hub_factory,
        config,
        gitlab_server.admin_token,
        users=READERS + REFUSED,
        admins=("ada",),
        service_args=("--ReviewRuns.poll_interval=0", "--ReviewRuns.reader_cache_seconds=0"),
    )


def test_only_people_who_can_read_the_project_on_gitlab_see_a_review_run(review_hub, gitlab_server):
    for user in READERS:
        page = call(review_hub, user, "GET", f"review-runs/{RUN}")
        assert page.status_code == 200, (user, page.text)
        assert "plot.py" in page.text and f"/services/promotion/review-runs/{RUN}/notebooks/0" in page.text
        notebook = call(review_hub, user, "GET", f"review-runs/{RUN}/notebooks/0")
        assert notebook.status_code == 200 and f"data:image/png;base64,{PNG}" in notebook.text
        assert call(review_hub, user, "GET", f"api/review-runs?project={PROJECT}").json()["runs"][0]["run_id"] == RUN
    for user in REFUSED:
        for path in (
            f"review-runs/{RUN}",
            f"review-runs/{RUN}/notebooks/0",
            f"api/review-runs/{RUN}",
            f"api/review-runs?project={PROJECT}",
        ):
            refused = call(review_hub, user, "GET", path)
            assert refused.status_code == 403, (user, path, refused.text)
            assert f"{user} cannot read {PROJECT} on GitLab" in refused.json()["message"]
            assert "rate" not in refused.text
    assert '"event": "review.refused"' in review_hub.log_text()
    assert call(review_hub, "alice", "GET", "review-runs/fedcba9876543210").status_code == 404
    # nobody learns through the service who is a member of a project it does not promote
    other = call(review_hub, "carol", "GET", "api/review-runs?project=secret/plans")
    assert other.status_code == 404 and "no promotion project 'secret/plans'" in other.json()["message"]
    # without a hub login: nothing (an API client is refused, a browser is sent to the hub's login)
    anonymous = requests.get(review_hub.service_url + f"review-runs/{RUN}", allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 403) and "rate" not in anonymous.text

    # dave is taken out of the project in GitLab: he cannot read it, nor its runs
    gitlab_server.client().projects.get(PROJECT).members.delete(gitlab_server.user_id("dave"))
    assert call(review_hub, "dave", "GET", f"review-runs/{RUN}/notebooks/0").status_code == 403


def test_a_review_runs_pages_can_run_nothing(review_hub):
    for path in (f"review-runs/{RUN}", f"review-runs/{RUN}/notebooks/0"):
        page = call(review_hub, "alice", "GET", path)
        assert page.headers["Content-Security-Policy"] == CSP
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert not re.search(r"<\s*script", page.text, re.I)
    assert "&lt;script&gt;fetch" in call(review_hub, "alice", "GET", f"review-runs/{RUN}/notebooks/0").text


def test_only_admins_start_a_review_run(review_hub):
    refused = call(review_hub, "alice", "POST", "api/review-runs", json={"project": PROJECT, "iid": 1})
    assert refused.status_code == 403 and "alice may not trigger" in refused.json()["message"]
