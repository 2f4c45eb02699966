"""Commit statuses in the GitLab stand-in answer as GitLab's API::CommitStatuses does (its spec:
states and their transitions, errors, who may post and read, latest vs all), through python-gitlab
as the promotion service and the review extension call them."""

import gitlab
import pytest
import requests

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
NAME = "jupyterhub-ds/run"


@pytest.fixture
def review_branch(gitlab_server):
    """alice's review branch with one commit, and its open merge request."""
    alice = gitlab_server.client(gitlab_server.user_token("alice", ["api"])).projects.get(PROJECT)
    alice.branches.create({"branch": "review/alice/churn", "ref": "main"})
    commit = alice.commits.create(
        {
            "branch": "review/alice/churn",
            "commit_message": "v2",
            "actions": [{"action": "update", "file_path": "analysis/churn.py", "content": "print('v2')\n"}],
        }
    )
    mr = alice.mergerequests.create({"source_branch": "review/alice/churn", "target_branch": "main", "title": "v2"})
    return commit.id, mr


def post(server, sha, token=None, **params):
    return requests.post(
        f"{server.url}/api/v4/projects/{PROJECT.replace('/', '%2F')}/statuses/{sha}",
        data=params,
        headers={"PRIVATE-TOKEN": token or server.admin_token},
        timeout=10,
    )


def test_a_status_moves_pending_running_success_on_one_record(gitlab_server, review_branch):
    sha, _ = review_branch
    project = gitlab_server.client().projects.get(PROJECT, lazy=True)
    statuses = project.commits.get(sha, lazy=True).statuses
    pending = statuses.create(
        {
            "state": "pending",
            "name": NAME,
            "ref": "review/alice/churn",
            "target_url": "http://127.0.0.1:9/run/1",
            "description": "queued",
        }
    )
    assert (pending.status, pending.name, pending.sha, pending.ref) == ("pending", NAME, sha, "review/alice/churn")
    assert pending.pipeline_id and pending.author["username"] == "root" and pending.started_at is None
    running = statuses.create({"state": "running", "name": NAME, "ref": "review/alice/churn"})
    done = statuses.create({"state": "success", "name": NAME, "ref": "review/alice/churn", "description": "2 ok"})
    assert running.id == done.id == pending.id and done.status == "success"
    assert done.target_url == "http://127.0.0.1:9/run/1" and done.description == "2 ok"  # kept unless sent again
    assert done.created_at <= done.started_at <= done.finished_at
    [latest] = statuses.list(name=NAME)
    assert latest.id == done.id and latest.status == "success"

    # a new run of the same name: a new record; the finished one is retried (listed only with all)
    statuses.create({"state": "pending", "name": NAME, "ref": "review/alice/churn"})
    again = statuses.create({"state": "failed", "name": NAME, "ref": "review/alice/churn"})
    assert again.id != done.id
    assert [(s.id, s.status) for s in statuses.list(name=NAME)] == [(again.id, "failed")]
    every = {"all": "true"}  # python-gitlab reads all=True as get_all
    assert [s.status for s in statuses.list(name=NAME, query_parameters=every)] == ["success", "failed"]
    assert [s.status for s in statuses.list(query_parameters={**every, "sort": "desc"})] == ["failed", "success"]


def test_refused_transitions_and_parameters_are_gitlabs_400s(gitlab_server, review_branch):
    sha, _ = review_branch
    assert post(gitlab_server, sha, state="pending", name=NAME).status_code == 201
    twice = post(gitlab_server, sha, state="pending", name=NAME)
    assert twice.status_code == 400 and twice.json() == {
        "message": "Cannot transition status via :enqueue from "
        ':pending (Reason(s): Status cannot transition via "enqueue")'
    }
    assert post(gitlab_server, sha, state="running", name=NAME).status_code == 201
    again = post(gitlab_server, sha, state="running", name=NAME)
    assert (
        again.json()["message"] == "Cannot transition status via :run from :running (Reason(s): Status cannot "
        'transition via "run")'
    )
    back = post(gitlab_server, sha, state="pending", name=NAME)
    assert back.status_code == 400 and ":enqueue from :running" in back.json()["message"]

    assert post(gitlab_server, sha, name=NAME).json() == {"error": "state is missing"}
    assert post(gitlab_server, sha, state="done").json() == {"error": "state does not have a valid value"}
    blocked = post(gitlab_server, sha, state="pending", name="other", target_url="javascript:alert(1)")
    assert blocked.status_code == 400
    assert blocked.json() == {"message": {"target_url": ["is blocked: Only allowed schemes are http, https"]}}
    missing = post(gitlab_server, "0" * 40, state="pending")
    assert missing.status_code == 404 and missing.json() == {"message": "404 Commit Not Found"}
    # without a ref: the first branch containing the commit; python-gitlab's errors carry the code
    status = gitlab_server.client().projects.get(PROJECT).commits.get(sha).statuses.create({"state": "canceled"})
    assert (status.name, status.ref, status.status) == ("default", "review/alice/churn", "canceled")
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        gitlab_server.client().projects.get(PROJECT).commits.get(sha).statuses.create({"state": "skipping"})
    assert refused.value.response_code == 400


def test_developers_post_reporters_read_outsiders_get_nothing(gitlab_server, review_branch):
    sha, _ = review_branch
    alice, dave, carol = (gitlab_server.user_token(u, ["api"]) for u in ("alice", "dave", "carol"))
    assert post(gitlab_server, sha, token=alice, state="running", name=NAME).status_code == 201  # Developer
    refused = post(gitlab_server, sha, token=dave, state="running", name="mine")  # Reporter
    assert refused.status_code == 403 and refused.json() == {"message": "403 Forbidden"}
    assert post(gitlab_server, sha, token=carol, state="running").status_code == 404  # cannot see the project
    # a Developer may not post a status on a branch protected against their pushes and merges
    root = gitlab_server.client().projects.get(PROJECT)
    root.branches.create({"branch": "production", "ref": "main"})
    root.protectedbranches.create({"name": "production", "push_access_level": 40, "merge_access_level": 40})
    main = root.branches.get("main").commit["id"]
    assert post(gitlab_server, main, token=alice, state="running", ref="production").status_code == 403
    assert post(gitlab_server, main, token=alice, state="running", ref="main").status_code == 201  # she merges there

    listing = f"{gitlab_server.url}/api/v4/projects/{PROJECT.replace('/', '%2F')}/repository/commits/{sha}/statuses"
    read = requests.get(listing, headers={"PRIVATE-TOKEN": dave}, timeout=10)
    assert read.status_code == 200 and [s["status"] for s in read.json()] == ["running"]
    assert read.headers["X-Total"] == "1"
    assert requests.get(listing, headers={"PRIVATE-TOKEN": carol}, timeout=10).status_code == 404
    bad = requests.get(listing, params={"order_by": "name"}, headers={"PRIVATE-TOKEN": dave}, timeout=10)
    assert bad.status_code == 400


def test_notes_are_edited_in_place_and_pushes_update_the_merge_request(gitlab_server, review_branch):
    _, mr = review_branch
    root = gitlab_server.client().projects.get(PROJECT)
    mr = root.mergerequests.get(mr.iid)
    note = mr.notes.create({"body": "<!-- marker --> first"})
    mr.notes.update(note.id, {"body": "<!-- marker --> second"})
    assert [n.body for n in mr.notes.list(get_all=True)] == ["<!-- marker --> second"]
    alice = gitlab_server.client(gitlab_server.user_token("alice", ["api"])).projects.get(PROJECT)
    with pytest.raises(gitlab.GitlabUpdateError) as refused:  # only the author edits a note
        alice.mergerequests.get(mr.iid).notes.update(note.id, {"body": "mine now"})
    assert refused.value.response_code == 403

    before = root.mergerequests.get(mr.iid).updated_at
    assert root.mergerequests.list(state="opened", updated_after=before, get_all=True)[0].iid == mr.iid
    assert root.mergerequests.list(state="opened", updated_after="2999-01-01T00:00:00Z", get_all=True) == []
    alice.commits.create(
        {
            "branch": "review/alice/churn",
            "commit_message": "v3",
            "actions": [{"action": "update", "file_path": "analysis/churn.py", "content": "print(3)\n"}],
        }
    )
    assert root.mergerequests.get(mr.iid).updated_at > before  # a push updates the merge request
