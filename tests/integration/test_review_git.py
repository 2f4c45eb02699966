"""The git side of a submit (GitPython + the real git CLI) against a local bare repository:
the working copy is never touched, the push is leased, the fallback diff comes from git."""

from __future__ import annotations

import pytest

from jupyterhub_ds.review.gitops import Git, GitFailure
from tests.fixtures.gitlab import run_git

pytestmark = pytest.mark.integration

AUTHOR = {"name": "Alice Analyst", "email": "alice@example.com"}


@pytest.fixture
def repos(tmp_path):
    bare, wc = tmp_path / "remote.git", tmp_path / "wc"
    run_git("init", "-q", "--bare", str(bare))
    run_git("clone", "-q", str(bare), str(wc))
    (wc / "a.py").write_text("x = 1\n")
    run_git("add", "a.py", cwd=wc)
    run_git("commit", "-qm", "base", cwd=wc)
    run_git("push", "-q", "origin", "HEAD:main", cwd=wc)
    return bare, wc


def test_review_commit_leaves_head_index_and_files_alone(repos):
    bare, wc = repos
    (wc / "a.py").write_text("x = 2  # unsaved local work\n")
    run_git("add", "a.py", cwd=wc)  # even something staged
    before = (run_git("rev-parse", "HEAD", cwd=wc).stdout, run_git("status", "--porcelain", cwd=wc).stdout)
    g = Git.open(wc, protocols="file")
    target, review = g.fetch_review_refs("main", "review/alice/a")
    assert review is None
    commit = g.build_commit(target, {"a.py": b"x = 3\n", "nb/new.py": b"y = 1\n"}, "Review a\n\nbody\n", AUTHOR)
    g.push(commit, "review/alice/a", None)
    assert (run_git("rev-parse", "HEAD", cwd=wc).stdout, run_git("status", "--porcelain", cwd=wc).stdout) == before
    assert (wc / "a.py").read_text() == "x = 2  # unsaved local work\n"
    assert run_git("show", "review/alice/a:a.py", cwd=bare).stdout == "x = 3\n"
    assert run_git("show", "review/alice/a:nb/new.py", cwd=bare).stdout == "y = 1\n"
    log = run_git("log", "-1", "--format=%an <%ae>|%cn|%s|%P", "review/alice/a", cwd=bare).stdout.strip()
    assert log == f"Alice Analyst <alice@example.com>|Alice Analyst|Review a|{target}"
    assert g.build_commit(commit, {"a.py": b"x = 3\n"}, "same", AUTHOR) == commit  # nothing new -> no commit


def test_push_is_leased_so_a_branch_moved_meanwhile_is_not_overwritten(repos, tmp_path):
    bare, wc = repos
    g = Git.open(wc, protocols="file")
    target, _ = g.fetch_review_refs("main", "review/alice/a")
    first = g.build_commit(target, {"a.py": b"x = 3\n"}, "one", AUTHOR)
    g.push(first, "review/alice/a", None)
    # someone else moves the review branch after our fetch
    other = tmp_path / "other"
    run_git("clone", "-q", "-b", "review/alice/a", str(bare), str(other))
    (other / "b.txt").write_text("theirs\n")
    run_git("add", "b.txt", cwd=other)
    run_git("commit", "-qm", "theirs", cwd=other)
    run_git("push", "-q", "origin", "HEAD:review/alice/a", cwd=other)
    second = g.build_commit(first, {"a.py": b"x = 4\n"}, "two", AUTHOR)
    with pytest.raises(GitFailure) as e:
        g.push(second, "review/alice/a", first)  # we still believe it is at `first`
    assert e.value.kind == "stale"
    assert run_git("show", "review/alice/a:b.txt", cwd=bare).stdout == "theirs\n"  # their work is kept
    # after a new fetch the rebuilt commit carries theirs and the push goes through
    _, moved = g.fetch_review_refs("main", "review/alice/a")
    third = g.build_commit(moved, {"a.py": b"x = 4\n"}, "two", AUTHOR)
    g.push(third, "review/alice/a", moved)
    assert run_git("show", "review/alice/a:b.txt", cwd=bare).stdout == "theirs\n"
    assert run_git("show", "review/alice/a:a.py", cwd=bare).stdout == "x = 4\n"


def test_missing_target_branch_and_fallback_diff(repos):
    _, wc = repos
    g = Git.open(wc, protocols="file")
    assert g.fetch_review_refs("no-such-branch", "review/alice/a") == (None, None)
    head = g.rev("HEAD")
    assert g.diff_text(head, "a.py", b"x = 5\n") == "@@ -1 +1 @@\n-x = 1\n+x = 5"
    assert g.diff_text(head, "new.py", b"a\nb\n") == "@@ -0,0 +1,2 @@\n+a\n+b"


def test_review_commit_keeps_the_rest_of_the_tree_and_is_valid_for_git(repos):
    bare, wc = repos
    for name in ("nb/old.py", "nb/deep/keep.txt", "a.b", "a-c/z.py"):
        (wc / name).parent.mkdir(parents=True, exist_ok=True)
        (wc / name).write_text(name + "\n")
    run_git("add", "-A", cwd=wc)
    run_git("commit", "-qm", "more", cwd=wc)
    run_git("push", "-q", "origin", "HEAD:main", cwd=wc)
    g = Git.open(wc, protocols="file")
    target, _ = g.fetch_review_refs("main", "review/alice/a")
    # a new file in an existing folder, a new nested folder, a changed file, names git sorts specially
    files = {"nb/new.py": b"n\n", "nb/deep/er/x.py": b"x\n", "a.py": b"x = 9\n", "a/b.py": b"ab\n"}
    commit = g.build_commit(target, files, "Review\n", AUTHOR)
    g.push(commit, "review/alice/a", None)
    listed = run_git("ls-tree", "-r", "--name-only", "review/alice/a", cwd=bare).stdout.split()
    assert listed == sorted(
        ["a-c/z.py", "a.b", "a.py", "a/b.py", "nb/deep/er/x.py", "nb/deep/keep.txt", "nb/new.py", "nb/old.py"],
        key=lambda p: p.encode(),
    )
    assert run_git("show", "review/alice/a:nb/old.py", cwd=bare).stdout == "nb/old.py\n"
    assert run_git("show", "review/alice/a:a.py", cwd=bare).stdout == "x = 9\n"
    # git's own checks: tree entries sorted, modes and names valid, every object present
    assert run_git("fsck", "--strict", "--no-dangling", cwd=bare, check=False).returncode == 0
    assert run_git("diff", "--name-only", target, commit, cwd=wc).stdout.split() == [
        "a.py",
        "a/b.py",
        "nb/deep/er/x.py",
        "nb/new.py",
    ]


def test_tracking_refs_are_what_the_last_fetch_or_push_left(repos):
    _, wc = repos
    g = Git.open(wc, protocols="file")
    assert g.tracking_refs("main", "review/alice/a") == (
        run_git("rev-parse", "origin/main", cwd=wc).stdout.strip(),
        None,
    )
    target, _ = g.fetch_review_refs("main", "review/alice/a")
    commit = g.build_commit(target, {"a.py": b"x = 3\n"}, "one", AUTHOR)
    g.push(commit, "review/alice/a", None)  # git records the pushed branch as origin/review/alice/a
    assert g.tracking_refs("main", "review/alice/a") == (target, commit)
    run_git("pack-refs", "--all", cwd=wc)  # refs in packed-refs are read too
    assert g.tracking_refs("main", "review/alice/a") == (target, commit)
    assert g.tracking_refs("no-such-branch", "review/alice/b") == (None, None)


def test_a_remote_that_never_answers_is_unreachable_after_the_timeout_and_the_message_has_no_command_line(tmp_path):
    import socket
    import threading

    from jupyterhub_ds.review.submit_engine import git_error

    silent = socket.socket()  # accepts connections, never answers (as a hung GitLab)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(silent.accept()) for _ in range(4)], daemon=True).start()
    wc = tmp_path / "wc"
    run_git("init", "-q", str(wc))
    run_git("remote", "add", "origin", f"http://127.0.0.1:{silent.getsockname()[1]}/ds/nb.git", cwd=wc)
    g = Git.open(wc, helper="!f() { echo username=oauth2; echo password=inline-secret; }; f", timeout=2)
    try:
        with pytest.raises(GitFailure) as e:
            g.fetch_review_refs("main", "review/alice/a")
    finally:
        silent.close()
    assert (e.value.kind, e.value.message) == ("unreachable", "git fetch got no answer within 2 s")
    shown = git_error(e.value, "http://gitlab.example").message
    assert shown == (
        "GitLab (http://gitlab.example) is not reachable for git; your notebook is unchanged, try again "
        "in a minute (git fetch got no answer within 2 s)"
    )
