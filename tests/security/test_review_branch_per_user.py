"""Hole: review branches of two users could collide. ``alice``, ``alice_``, ``_alice``, ``alice-``
and ``alice..`` (all valid GitLab usernames) mapped to the same ``review/alice/...`` branch, and
a submit updated whatever open merge request sat on that branch.

Controls: an injective branch component per user (commit_plan.user_component); a merge request
is only ever updated when the submitting user opened it (gitlab_mr.MergeRequests.find_open).
Attack, with the real review service and the GitLab stand-in: two look-alike users submit the
same notebook; a third person opens a merge request from one user's review branch first.
"""

import copy
import logging
from concurrent.futures import ThreadPoolExecutor

import jupytext
import nbformat
import pytest

from jupyterhub_ds.review.config import ReviewConfig
from jupyterhub_ds.review.errors import ReviewError
from jupyterhub_ds.review.service import ReviewService
from jupyterhub_ds.review.summary_worker import SummaryWorker
from tests.fixtures.gitlab import DEFAULT_SEED, run_git

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
NB = f"projects/{PROJECT}/analysis/eda.ipynb"
EXECUTOR = ThreadPoolExecutor(4, thread_name_prefix="test-review")
POLICY = {
    "commit_notebooks": False,
    "branch_prefix": "review",
    "target_branch": "main",
    "max_file_size": 200_000,
    "max_submission_size": 300_000,
    "secret_patterns": [],
    "allowed_packages": None,
}


@pytest.fixture
def gitlab_seed():
    seed = copy.deepcopy(DEFAULT_SEED)
    project = next(p for p in seed["projects"] if p["path"] == PROJECT)
    for name in ("alice_", "alice.."):
        seed["users"].append(
            {
                "username": name,
                "name": f"Look-alike {name}",
                "email": f"{name.strip('.')}x@example.com",
                "password": "pw-0123456789",
            }
        )
        project.setdefault("members", []).append({"username": name, "access_level": 30})
    return seed


def service_for(gitlab_server, tmp_path, username):
    token = gitlab_server.user_token(username, ["api"])
    root = tmp_path / username
    wc = root / "projects" / PROJECT
    wc.parent.mkdir(parents=True)
    run_git("clone", "--quiet", gitlab_server.repo_url(PROJECT, token), str(wc))
    run_git("remote", "set-url", "origin", gitlab_server.repo_url(PROJECT), cwd=wc)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"owner = {username!r}")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (wc / "analysis").mkdir(exist_ok=True)
    nbformat.write(nb, wc / "analysis" / "eda.ipynb")
    (wc / "analysis" / "eda.py").write_text(jupytext.writes(nb, fmt="py:percent"))
    settings = ReviewConfig(
        token_source=lambda: token,
        username=username,
        gitlab_url=gitlab_server.url,
        policy=POLICY,
        state_dir=str(tmp_path / f"state-{username}"),
        clone_on_start=False,
        identity_source=lambda: {"username": username, "name": username, "email": f"{username.strip('.')}@example.com"},
    )
    return ReviewService(
        settings,
        str(root),
        logging.getLogger("test"),
        executor=EXECUTOR,
        worker=SummaryWorker(log=logging.getLogger("test"), standby=False),
    )


async def test_look_alike_users_get_their_own_branch_and_merge_request(gitlab_server, tmp_path):
    results = {}
    for name in ("alice", "alice_", "alice.."):
        results[name] = await service_for(gitlab_server, tmp_path, name).submit(NB, f"EDA by {name}")
    branches = {name: r["branch"] for name, r in results.items()}
    assert len(set(branches.values())) == 3, branches
    assert branches["alice"] == "review/alice/analysis-eda"
    project = gitlab_server.client().projects.get(PROJECT)
    for name, result in results.items():
        mr = project.mergerequests.get(result["mr"]["iid"])
        assert mr.author["username"] == name and mr.source_branch == branches[name] and mr.title == f"EDA by {name}"


async def test_a_merge_request_someone_else_opened_on_my_branch_is_never_updated(gitlab_server, tmp_path):
    alice = service_for(gitlab_server, tmp_path, "alice")
    # bob (Maintainer) pushes to alice's review branch and opens his merge request from it
    bob = gitlab_server.client(gitlab_server.user_token("bob", ["api"])).projects.get(PROJECT)
    bob.branches.create({"branch": "review/alice/analysis-eda", "ref": "main"})
    theirs = bob.mergerequests.create(
        {
            "source_branch": "review/alice/analysis-eda",
            "target_branch": "main",
            "title": "Bob's change",
            "description": "bob's words",
        }
    )
    with pytest.raises(ReviewError) as refused:
        await alice.submit(NB, "Alice's EDA", "alice's words")
    assert refused.value.status == 502
    assert f"open merge request !{theirs.iid} opened by bob, not by you" in refused.value.message
    again = gitlab_server.client().projects.get(PROJECT).mergerequests.get(theirs.iid)
    assert (again.title, again.description, again.author["username"]) == ("Bob's change", "bob's words", "bob")
