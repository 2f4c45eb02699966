"""python-gitlab and real git drive a whole merge-request life cycle against the GitLab stand-in."""

import gitlab
import pytest

from tests.fixtures.gitlab import run_git

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"


@pytest.fixture
def alice(gitlab_server):
    token = gitlab_server.user_token("alice", ["api"])
    return token, gitlab_server.client(token)


@pytest.fixture
def bob(gitlab_server):
    return gitlab_server.client(gitlab_server.user_token("bob", ["api"]))


def clone(gitlab_server, token, tmp_path, name="work"):
    target = tmp_path / name
    run_git("clone", gitlab_server.repo_url(PROJECT, token), str(target), home=tmp_path)
    return target


def commit_file(repo, path, text, message):
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    run_git("add", path, cwd=repo)
    run_git("commit", "-q", "-m", message, cwd=repo)
    return run_git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def test_branch_push_mr_approve_merge_notes_and_tags(gitlab_server, alice, bob, tmp_path):
    token, gl = alice
    project = gl.projects.get(PROJECT)
    assert project.http_url_to_repo == f"{gitlab_server.url}/{PROJECT}.git"

    # Create a branch through the API, then push a commit to it with real git over HTTP.
    branch = project.branches.create({"branch": "review/alice/churn", "ref": "main"})
    assert branch.name == "review/alice/churn" and branch.protected is False
    repo = clone(gitlab_server, token, tmp_path)
    run_git("checkout", "-q", "review/alice/churn", cwd=repo)
    sha = commit_file(repo, "analysis/churn.py", "print('churn v2')\n", "Improve churn analysis")
    push = run_git("push", "origin", "review/alice/churn", cwd=repo)
    assert "review/alice/churn" in push.stderr
    assert project.branches.get("review/alice/churn").commit["id"] == sha

    mr = project.mergerequests.create(
        {
            "source_branch": "review/alice/churn",
            "target_branch": "main",
            "title": "Improve churn analysis",
            "description": "Cell 3 changed.",
            "labels": "notebooks,review",
        }
    )
    assert (mr.iid, mr.state, mr.sha, mr.detailed_merge_status) == (1, "opened", sha, "mergeable")
    assert mr.changes_count == "1" and mr.labels == ["notebooks", "review"]
    assert mr.diff_refs["head_sha"] == sha and mr.web_url.endswith(f"/{PROJECT}/-/merge_requests/1")
    assert mr.references["full"] == f"{PROJECT}!1" and mr.author["username"] == "alice"

    # A second open MR for the same source branch is refused like GitLab does.
    with pytest.raises(gitlab.GitlabCreateError) as dup:
        project.mergerequests.create({"source_branch": "review/alice/churn", "target_branch": "main", "title": "again"})
    assert dup.value.response_code == 409
    assert "Another open merge request already exists for this source branch: !1" in str(dup.value.error_message)

    # Pushing another commit updates the MR (its sha comes from the real ref).
    sha2 = commit_file(repo, "analysis/report.md", "# Report\n", "Add report")
    run_git("push", "origin", "review/alice/churn", cwd=repo)
    mr = project.mergerequests.get(1)
    assert mr.sha == sha2 and mr.changes_count == "2"
    assert [c.id for c in mr.commits()] == [sha2, sha]
    changes = mr.changes()["changes"]
    assert {c["new_path"] for c in changes} == {"analysis/churn.py", "analysis/report.md"}
    assert any("+print('churn v2')" in c["diff"] for c in changes)

    # Notes.
    note = mr.notes.create({"body": "Please check the **priors**."})
    assert note.body == "Please check the **priors**." and note.author["username"] == "alice"
    assert mr.notes.get(note.id).noteable_iid == 1

    # The author cannot approve; bob (maintainer) can, once.
    with pytest.raises(gitlab.GitlabAuthenticationError):
        mr.approve()
    bob_mr = bob.projects.get(PROJECT).mergerequests.get(1)
    bob_mr.approve()
    approvals = bob_mr.approvals.get()
    assert approvals.approved is True and [a["user"]["username"] for a in approvals.approved_by] == ["bob"]
    with pytest.raises(gitlab.GitlabAuthenticationError):
        bob_mr.approve()

    # Unapprove and approve again.
    bob_mr.unapprove()
    assert bob_mr.approvals.get().approved is False
    bob_mr.approve()

    # Merge with a stale sha -> 409; then a real merge commit on main.
    with pytest.raises(gitlab.GitlabMRClosedError) as stale:
        bob_mr.merge(sha=sha)
    assert stale.value.response_code == 409
    bob_mr.merge(sha=sha2)
    assert bob_mr.state == "merged" and bob_mr.merged_by["username"] == "bob"
    main = project.branches.get("main").commit
    assert main["id"] == bob_mr.merge_commit_sha and main["parent_ids"][1] == sha2
    assert main["title"] == "Merge branch 'review/alice/churn' into 'main'"
    run_git("fetch", "-q", "origin", cwd=repo)
    assert run_git("show", "origin/main:analysis/churn.py", cwd=repo).stdout == "print('churn v2')\n"

    # A second merge is refused (405) -> GitlabMRClosedError.
    with pytest.raises(gitlab.GitlabMRClosedError) as again:
        bob_mr.merge()
    assert again.value.response_code == 405
    assert project.mergerequests.get(1).detailed_merge_status == "not_open"
    assert [m.iid for m in project.mergerequests.list(state="merged")] == [1]

    # The merged commits lead back to their MR (the promotion service notes merged MRs this way).
    assert [m["iid"] for m in project.commits.get(sha).merge_requests()] == [1]
    assert [m["iid"] for m in project.commits.get(bob_mr.merge_commit_sha).merge_requests()] == [1]
    assert project.commits.get("main~1").merge_requests() == []

    # Commits and compare read the real history.
    titles = [c.title for c in project.commits.list(ref_name="main")]
    assert titles[:3] == ["Merge branch 'review/alice/churn' into 'main'", "Add report", "Improve churn analysis"]
    compare = project.repository_compare("main~1", "main")
    assert [c["id"] for c in compare["commits"]] == [sha, sha2, bob_mr.merge_commit_sha]
    assert {d["new_path"] for d in compare["diffs"]} == {"analysis/churn.py", "analysis/report.md"}

    # Lightweight and annotated tags (bob is a maintainer).
    bob_project = bob.projects.get(PROJECT)
    light = bob_project.tags.create({"tag_name": "v1.0.0", "ref": "main"})
    assert light.target == main["id"] and light.message is None and light.created_at is None
    annotated = bob_project.tags.create({"tag_name": "v1.0.1", "ref": "main", "message": "Release 1.0.1"})
    assert annotated.message == "Release 1.0.1" and annotated.target != main["id"]
    assert annotated.commit["id"] == main["id"] and annotated.created_at
    tags = run_git("ls-remote", "--tags", "origin", cwd=repo).stdout
    assert "refs/tags/v1.0.0" in tags and "refs/tags/v1.0.1^{}" in tags
    with pytest.raises(gitlab.GitlabCreateError) as dup_tag:
        bob_project.tags.create({"tag_name": "v1.0.0", "ref": "main"})
    assert dup_tag.value.response_code == 405


def test_protected_branch_refuses_a_developer_push(gitlab_server, alice, tmp_path):
    token, gl = alice
    repo = clone(gitlab_server, token, tmp_path)
    commit_file(repo, "direct.txt", "no review\n", "Direct to main")
    push = run_git("push", "origin", "main", cwd=repo, check=False)
    assert push.returncode != 0
    assert "You are not allowed to push code to protected branches on this project." in push.stderr
    assert "pre-receive hook declined" in push.stderr
    assert gl.projects.get(PROJECT).branches.get("main").commit["title"] == "Initial commit"


def test_unprotecting_lets_the_push_through_and_protecting_blocks_it(gitlab_server, alice, bob, tmp_path):
    bob_project = bob.projects.get(PROJECT)
    bob_project.protectedbranches.delete("main")
    token, gl = alice
    repo = clone(gitlab_server, token, tmp_path)
    sha = commit_file(repo, "direct.txt", "now allowed\n", "Direct to main")
    run_git("push", "origin", "main", cwd=repo)
    assert gl.projects.get(PROJECT).branches.get("main").commit["id"] == sha
    rule = bob_project.protectedbranches.create({"name": "release", "push_access_level": 40})
    assert rule.push_access_levels[0]["access_level"] == 40
    push = run_git("push", "origin", "main:release", cwd=repo, check=False)
    assert push.returncode != 0 and "protected branches" in push.stderr


def test_merge_conflict_gives_422_and_draft_gives_405(gitlab_server, alice, bob):
    token, gl = alice
    project = gl.projects.get(PROJECT)
    for name, text in (("left", "left\n"), ("right", "right\n")):
        project.branches.create({"branch": name, "ref": "main"})
        project.commits.create(
            {
                "branch": name,
                "commit_message": f"{name} edit",
                "actions": [{"action": "update", "file_path": "README.md", "content": text}],
            }
        )
    left = project.mergerequests.create({"source_branch": "left", "target_branch": "main", "title": "Left"})
    right = project.mergerequests.create({"source_branch": "right", "target_branch": "main", "title": "Right"})
    draft_branch = project.branches.create({"branch": "wip", "ref": "main"})
    draft = project.mergerequests.create(
        {"source_branch": draft_branch.name, "target_branch": "main", "title": "Draft: not ready"}
    )
    assert draft.draft is True and draft.detailed_merge_status == "draft_status"
    bob_project = bob.projects.get(PROJECT)
    bob_project.mergerequests.get(left.iid).merge()
    right = bob_project.mergerequests.get(right.iid)
    assert right.has_conflicts is True and right.detailed_merge_status == "conflict"
    with pytest.raises(gitlab.GitlabMRClosedError) as conflict:
        right.merge()
    assert conflict.value.response_code == 422 and "Branch cannot be merged" in str(conflict.value)
    with pytest.raises(gitlab.GitlabMRClosedError) as not_ready:
        bob_project.mergerequests.get(draft.iid).merge()
    assert not_ready.value.response_code == 405


def test_close_and_reopen_and_update(gitlab_server, alice):
    _, gl = alice
    project = gl.projects.get(PROJECT)
    project.branches.create({"branch": "topic", "ref": "main"})
    mr = project.mergerequests.create({"source_branch": "topic", "target_branch": "main", "title": "Topic"})
    mr.state_event = "close"
    mr.save()
    assert project.mergerequests.get(mr.iid).state == "closed"
    with pytest.raises(gitlab.GitlabMRClosedError) as closed:
        project.mergerequests.get(mr.iid).merge()
    assert closed.value.response_code in (401, 405)
    mr.state_event, mr.title = "reopen", "Topic, renamed"
    mr.save()
    again = project.mergerequests.get(mr.iid)
    assert (again.state, again.title) == ("opened", "Topic, renamed")
    assert [m.iid for m in project.mergerequests.list(state="opened", source_branch="topic")] == [mr.iid]


class TestFastForwardProject:
    """A project with merge_method ff: merges move the target branch, no merge commit."""

    @pytest.fixture
    def gitlab_seed(self, gitlab_seed):
        gitlab_seed["projects"][0]["merge_method"] = "ff"
        return gitlab_seed

    def test_fast_forward_and_squash(self, gitlab_server, bob):
        project = bob.projects.get(PROJECT)
        assert project.merge_method == "ff"
        project.branches.create({"branch": "ff", "ref": "main"})
        for n in (1, 2):
            project.commits.create(
                {
                    "branch": "ff",
                    "commit_message": f"step {n}",
                    "actions": [{"action": "create", "file_path": f"s{n}.txt", "content": f"{n}\n"}],
                }
            )
        head = project.branches.get("ff").commit["id"]
        mr = project.mergerequests.create(
            {"source_branch": "ff", "target_branch": "main", "title": "FF", "remove_source_branch": True}
        )
        mr.merge()
        assert project.branches.get("main").commit["id"] == head and mr.merge_commit_sha is None
        assert "ff" not in [b.name for b in project.branches.list(get_all=True)]  # removed after merge

        project.branches.create({"branch": "sq", "ref": "main"})
        for n in (3, 4):
            project.commits.create(
                {
                    "branch": "sq",
                    "commit_message": f"step {n}",
                    "actions": [{"action": "create", "file_path": f"s{n}.txt", "content": f"{n}\n"}],
                }
            )
        mr = project.mergerequests.create({"source_branch": "sq", "target_branch": "main", "title": "Squashed"})
        mr.merge(squash=True, squash_commit_message="Steps 3 and 4")
        main = project.branches.get("main").commit
        assert main["id"] == mr.squash_commit_sha and main["title"] == "Steps 3 and 4" and main["parent_ids"] == [head]
        assert project.files.get("s4.txt", ref="main").decode() == b"4\n"
