"""The merge request side (python-gitlab) against the GitLab stand-in: one open MR per review
branch, GitLab's 409 when another appeared meanwhile, approvals, and errors for people."""

from __future__ import annotations

import pytest

from jupyterhub_ds.gitlab_client import client
from jupyterhub_ds.review import gitlab_mr
from tests.fixtures.gitlab import stop_process

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
BRANCH = "review/alice/x"


@pytest.fixture
def alice(gitlab_server):
    token = gitlab_server.user_token("alice", ["api"])
    project = gitlab_server.client(token).projects.get(PROJECT)
    project.branches.create({"branch": BRANCH, "ref": "main"})
    project.commits.create(
        {
            "branch": BRANCH,
            "commit_message": "x",
            "actions": [{"action": "create", "file_path": "x.py", "content": "x = 1\n"}],
        }
    )
    return gitlab_mr.MergeRequests(client(gitlab_server.url, token, timeout=10), PROJECT)


def test_create_then_update_the_same_mr(alice, gitlab_server):
    mr, created = alice.ensure(BRANCH, "main", "First", "one")
    assert created and mr["state"] == "opened" and mr["title"] == "First"
    again, created = alice.ensure(BRANCH, "main", "Second", "two")
    assert not created and again["iid"] == mr["iid"] and again["title"] == "Second"
    got = gitlab_server.client().projects.get(PROJECT).mergerequests.get(mr["iid"])
    assert (got.title, got.description) == ("Second", "two")


class Racing(gitlab_mr.MergeRequests):
    """Sees no MR on its first look, as when another submit created it right after."""

    looked = False

    def find_open(self, branch):
        if not self.looked:
            self.looked = True
            return None
        return super().find_open(branch)


def test_gitlabs_409_for_an_mr_made_meanwhile_updates_that_mr(alice, gitlab_server):
    existing, _ = alice.ensure(BRANCH, "main", "Made meanwhile", "")
    racing = Racing(alice.gl, PROJECT)
    mr, created = racing.ensure(BRANCH, "main", "Mine", "desc")
    assert racing.looked and not created and mr["iid"] == existing["iid"] and mr["title"] == "Mine"
    assert len(gitlab_server.client().projects.get(PROJECT).mergerequests.list(state="opened", get_all=True)) == 1


def test_status_reports_approvals_and_merge(alice, gitlab_server):
    mr, _ = alice.ensure(BRANCH, "main", "t", "")
    assert alice.status(mr["iid"]) == ({**mr, "approved": False, "approvals": 0, "merged": False}, None)
    bob = (
        gitlab_server.client(gitlab_server.user_token("bob", ["api"]))
        .projects.get(PROJECT)
        .mergerequests.get(mr["iid"])
    )
    bob.approve()
    assert alice.status(mr["iid"])[0]["approvals"] == 1 and alice.status(mr["iid"])[0]["approved"] is True
    bob.merge()
    assert alice.status(mr["iid"])[0]["merged"] is True


def test_status_carries_the_review_run_of_the_head_commit(alice, gitlab_server):
    mr, _ = alice.ensure(BRANCH, "main", "t", "")
    assert alice.status(mr["iid"], "jupyterhub-ds/run")[1] is None  # no run (yet)
    sha = gitlab_server.client().projects.get(PROJECT).mergerequests.get(mr["iid"]).sha
    statuses = gitlab_server.client().projects.get(PROJECT).commits.get(sha, lazy=True).statuses
    statuses.create({"state": "pending", "name": "jupyterhub-ds/run", "target_url": "http://hub/run/1"})
    statuses.create({"state": "running", "name": "other"})
    assert alice.status(mr["iid"], "jupyterhub-ds/run")[1] == {
        "state": "pending",
        "sha": sha,
        "target_url": "http://hub/run/1",
        "description": "",
    }
    statuses.create({"state": "failed", "name": "jupyterhub-ds/run", "description": "a.py cell 2: KeyError: 'x'"})
    run = alice.status(mr["iid"], "jupyterhub-ds/run")[1]
    assert (run["state"], run["description"]) == ("failed", "a.py cell 2: KeyError: 'x'")
    # statuses GitLab does not show (a commit it does not know, a Guest's view): no run, never an error
    assert alice.review_run("0" * 40, "jupyterhub-ds/run") is None


def test_errors_are_sentences_for_people(alice, gitlab_server):
    bad = gitlab_mr.MergeRequests(client(gitlab_server.url, "expired-token", timeout=10), PROJECT)
    with pytest.raises(gitlab_mr.GitLabFailure) as e:
        bad.ensure(BRANCH, "main", "t", "")
    assert e.value.kind == "auth" and "reload JupyterLab (or log in to the hub again)" in e.value.message
    with pytest.raises(gitlab_mr.GitLabFailure) as e:
        alice.ensure(BRANCH, "no-such-target", "t", "")
    assert e.value.kind == "refused" and "Target branch" in e.value.message
    stop_process(gitlab_server.process)
    with pytest.raises(gitlab_mr.GitLabFailure) as e:
        alice.ensure(BRANCH, "main", "t", "")
    assert e.value.kind == "unreachable" and f"GitLab at {gitlab_server.url} is not reachable" in e.value.message
