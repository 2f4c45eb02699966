"""Hole: git ran hooks and config from working copies it did not own. Every container runs as
uid 1000, so a repository planted in a writable shared mount passed git's safe.directory check;
opening the review dialog on it ran ``git fetch``, which ran the planted hook with the victim's
``JUPYTERHUB_API_TOKEN`` in its environment, or sent the GitLab token through a planted proxy.

Controls (jupyterhub_ds.git_command, used by the review extension, the workspace clone and the
promotion service): hooks, fsmonitor, askpass, configured credential helpers, proxies, signing
and alternate-refs programs are off for every git command; git's environment is allow-listed;
the GitLab token reaches git through a pipe and only for GitLab's host; working copies outside
the workspace folder are refused for check and submit.
"""

import http.server
import os
import threading
from pathlib import Path

import pytest
import requests

from jupyterhub_ds import git_command
from jupyterhub_ds.review.gitops import Git
from jupyterhub_ds.review.workspace import Workspace
from tests.fixtures.gitlab import run_git

PROJECT = "data-science/notebooks"
HUB_SECRET = "hub-api-token-that-git-must-never-see"


class Proxy(http.server.ThreadingHTTPServer):
    """A planted proxy: records every request it receives, answers 502."""

    def __init__(self):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append((self.command, self.path, self.headers.get("Authorization")))
                self.send_response(502)
                self.end_headers()

            do_POST = do_CONNECT = do_GET

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


def plant(repo: Path, gitlab_url: str, proxy_url: str, marker: Path) -> None:
    """What another user would leave in a working copy: hooks and config that run their program."""
    evil = repo.parent / "evil.sh"
    evil.write_text(f'#!/bin/sh\necho "$0 $* token=$JUPYTERHUB_API_TOKEN" >> {marker}\n')
    evil.chmod(0o755)
    hooks = repo / ".git" / "hooks"
    for hook in ("reference-transaction", "pre-push", "post-checkout", "post-commit", "pre-auto-gc"):
        (hooks / hook).write_text(evil.read_text())
        (hooks / hook).chmod(0o755)
    (repo / ".git" / "objects" / "info" / "alternates").write_text(str(repo / ".git" / "objects") + "\n")
    for key, value in [
        ("core.hooksPath", str(hooks)),
        ("core.fsmonitor", str(evil)),
        ("core.askPass", str(evil)),
        ("credential.helper", f"!{evil}"),
        (f"credential.{gitlab_url}.helper", f"!{evil}"),
        ("http.proxy", proxy_url),
        ("remote.origin.proxy", proxy_url),
        (f"http.{gitlab_url}/.proxy", proxy_url),
        ("commit.gpgSign", "true"),
        ("gpg.program", str(evil)),
        ("core.alternateRefsCommand", str(evil)),
        ("core.sshCommand", str(evil)),
        ("alias.fetch", f"!{evil}"),
    ]:
        run_git("config", key, value, cwd=repo)


@pytest.fixture
def planted(gitlab_server, tmp_path, monkeypatch):
    token = gitlab_server.user_token("alice", ["api"])
    repo = tmp_path / "home" / "projects" / PROJECT
    repo.parent.mkdir(parents=True)
    run_git("clone", "--quiet", gitlab_server.repo_url(PROJECT, token), str(repo))
    run_git("remote", "set-url", "origin", gitlab_server.repo_url(PROJECT), cwd=repo)
    proxy = Proxy()
    marker = tmp_path / "PLANTED-PROGRAM-RAN"
    plant(repo, gitlab_server.url, proxy.url, marker)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_SECRET)  # as in a user's server
    yield repo, token, proxy, marker
    proxy.shutdown()


@pytest.mark.integration
def test_a_planted_hook_and_proxy_never_run_or_receive_anything_during_a_review(planted, gitlab_server):
    repo, token, proxy, marker = planted
    g = Git.open(repo, gitlab_url=gitlab_server.url, token=lambda: token)
    try:
        target, review = g.fetch_review_refs("main", "review/alice/x")
        commit = g.build_commit(target, {"x.py": b"x = 1\n"}, "Review x", {"name": "Alice", "email": "a@example.com"})
        g.push(commit, "review/alice/x", review)
        g.diff_text(target, "x.py", b"x = 2\n")
    finally:
        g.close()
    assert not marker.exists(), marker.read_text()
    assert proxy.seen == []
    branch = gitlab_server.client().projects.get(PROJECT).branches.get("review/alice/x")
    assert branch.commit["id"] == commit  # the review still reached GitLab, with the token


@pytest.mark.integration
async def test_the_workspace_fetch_runs_nothing_planted(planted, gitlab_server, tmp_path):
    repo, token, proxy, marker = planted
    ws = Workspace(
        projects=[{"project": PROJECT, "ref": "main"}],
        root_dir=tmp_path / "home",
        directory="projects",
        gitlab_url=gitlab_server.url,
        token_source=lambda: token,
    )
    await ws.run()
    assert ws.status()["projects"][0]["state"] == "fetched", ws.status()
    assert not marker.exists() and proxy.seen == []


@pytest.mark.unit
def test_git_processes_get_no_secret_in_their_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_SECRET)
    monkeypatch.setenv("JPY_API_TOKEN", HUB_SECRET)
    monkeypatch.setenv("SOME_SERVICE_PASSWORD", HUB_SECRET)
    run_git("init", "-q", str(tmp_path / "wc"))
    # an alias that prints what a program started by git would see
    shown = git_command.run(
        ["-c", "alias.showenv=!env", "showenv"],
        cwd=tmp_path / "wc",
        token="gl-token-xyz",
        gitlab_url="http://gitlab.example",
    )
    assert shown.returncode == 0, shown.stderr
    assert HUB_SECRET.encode() not in shown.stdout and b"gl-token-xyz" not in shown.stdout
    assert b"GIT_ALLOW_PROTOCOL=http:https" in shown.stdout and b"NO_PROXY=*" in shown.stdout
    # GitPython's own git processes (the review's object reads) too
    g = Git.open(tmp_path / "wc")
    try:
        seen = g.repo.git.execute(["git", "-c", "alias.showenv=!env", "showenv"])
    finally:
        g.close()
    assert HUB_SECRET not in seen
    assert os.environ["JUPYTERHUB_API_TOKEN"] == HUB_SECRET  # the server's own environment is untouched


# ---- the whole attack, with real containers: a repository planted in a writable shared folder --------

SHARED = "/home/jovyan/teamspace"


@pytest.fixture(scope="module")
def sandbox_yaml_changes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teamspace")
    folder.chmod(0o777)  # every user's uid 1000 may write there

    def change(config):
        # an admin chose a writable shared folder (check-config names it as unsafe)
        config["volumes"]["shared"].append({"source": str(folder), "target": SHARED, "mode": "rw"})
        return config

    return change


@pytest.mark.integration
def test_a_repository_planted_in_a_shared_folder_is_refused_and_runs_nothing(sandbox):
    # mallory (hank) plants a repository with a hook and fsmonitor in the shared, writable folder
    sandbox.login("hank")
    sandbox.start_server("hank", {"profile": "small"})
    plant_script = (
        f"set -e; mkdir -p {SHARED}/evil && cd {SHARED}/evil && git init -q && "
        f"git remote add origin {sandbox.gitlab.url}/{PROJECT}.git && "
        f"printf '#!/bin/sh\\nenv > {SHARED}/STOLEN\\n' > {SHARED}/evil.sh && chmod +x {SHARED}/evil.sh && "
        f"for h in reference-transaction pre-push; do cp {SHARED}/evil.sh .git/hooks/$h; done && "
        f"git config core.fsmonitor {SHARED}/evil.sh && "
        'printf \'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\' > analysis.ipynb'
    )
    rc, out = sandbox.exec("hank", plant_script)
    assert rc == 0, out
    # alice opens the review dialog on it (check), and tries to submit it
    sandbox.login("alice")
    sandbox.start_server("alice", {"profile": "small"})
    token = sandbox.user_token("alice")
    base = f"{sandbox.hub.url}/user/alice/jupyterhub-ds/review"
    for endpoint, body in (
        ("check", {"path": "teamspace/evil/analysis.ipynb"}),
        ("submit", {"path": "teamspace/evil/analysis.ipynb", "title": "t"}),
    ):
        r = requests.post(f"{base}/{endpoint}", json=body, headers={"Authorization": f"token {token}"}, timeout=60)
        assert r.status_code == 400, r.text
        assert "is not in your workspace folder ~/projects" in r.json()["message"]
    rc, out = sandbox.exec("alice", f"test ! -e {SHARED}/STOLEN && echo clean")
    assert out.strip() == "clean", sandbox.exec("alice", f"cat {SHARED}/STOLEN")[1]
