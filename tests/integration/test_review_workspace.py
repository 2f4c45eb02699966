"""Workspace cloning at server start, against the GitLab stand-in: clone when absent, fetch when
present without touching local changes, failures shown (API + file), server keeps running."""

from __future__ import annotations

import asyncio

import pytest

# pytest-jupyter's fixtures, imported (not registered with pytest_plugins) so that its autouse
# fixtures (an event loop per test, server cleanup) stay in this module and never touch the
# other test modules' loops
from pytest_jupyter.jupyter_server import *  # noqa: E402, F401, F403

from tests.fixtures.gitlab import run_git
from tests.integration.test_review_api import alice_token, api, gitlab_seed, helper, on_server_loop  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PROJECT = "data-science/notebooks"


@pytest.fixture
def existing_clone():
    return False


@pytest.fixture
def jp_server_config(gitlab_server, alice_token, helper, tmp_path, jp_root_dir, existing_clone):  # noqa: F811
    if existing_clone:
        dest = jp_root_dir / "work" / PROJECT
        run_git("clone", "--quiet", gitlab_server.repo_url(PROJECT, alice_token), str(dest))
        run_git("remote", "set-url", "origin", gitlab_server.repo_url(PROJECT), cwd=dest)
        (dest / "README.md").write_text("my local edit\n")
        # meanwhile someone else pushes to main
        gl = gitlab_server.client(alice_token).projects.get(PROJECT)
        gl.branches.create({"branch": "feature", "ref": "main"})
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterhub_ds.review": True}},
        "ReviewConfig": {
            "token_source": lambda: alice_token,
            "username": "alice",
            "gitlab_url": gitlab_server.url,
            "git_credential_helper": helper,
            "state_dir": str(tmp_path / "state"),
            "workspace_dir": "work",
            "workspace": [
                {"project": PROJECT, "ref": "main"},
                {"project": "data-science/does-not-exist", "ref": "main"},
                {"project": "../../etc", "ref": "main"},
            ],
        },
    }


async def wait_done(jp_fetch):
    for _ in range(200):  # bounded: 20 s
        code, status = await api(jp_fetch, "GET", "workspace")
        assert code == 200
        if status["done"]:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"workspace never finished: {status}")


@on_server_loop
async def test_server_start_clones_assigned_projects_and_reports_failures(jp_asyncio_loop, jp_fetch, jp_root_dir):
    status = await wait_done(jp_fetch)
    states = {p["project"]: (p["state"], p["path"]) for p in status["projects"]}
    assert states[PROJECT] == ("cloned", f"work/{PROJECT}")
    assert states["data-science/does-not-exist"][0] == "failed"
    failed = next(p for p in status["projects"] if p["state"] == "failed")
    assert failed["message"].startswith("could not clone data-science/does-not-exist: ")
    assert "check that you are a member of the project" in failed["message"]
    assert "'../../etc' is not a GitLab project path" in status["problems"][0]
    clone = jp_root_dir / "work" / PROJECT
    assert (clone / "README.md").read_text() == "# Notebooks\n\nShared analyses.\n"
    assert 'formats = "ipynb,py:percent"' in (clone / "jupytext.toml").read_text()
    assert "*.ipynb" in (clone / ".git/info/exclude").read_text()
    assert run_git("status", "--porcelain", cwd=clone).stdout == ""  # our files are invisible to git
    assert "glpat" not in (clone / ".git/config").read_text()
    problems = (jp_root_dir / "work" / "CLONE-PROBLEMS.txt").read_text()
    assert "data-science/does-not-exist" in problems and "../../etc" in problems
    assert not list((jp_root_dir / "work" / "data-science").glob(".*cloning*"))  # no half-made clone left
    code, info = await api(jp_fetch, "GET", "info")
    assert code == 200 and info["name"] == "jupyterhub-ds"  # the server runs on


@pytest.mark.parametrize("existing_clone", [True])
@on_server_loop
async def test_server_start_fetches_an_existing_clone_without_touching_local_changes(
    jp_asyncio_loop, jp_fetch, jp_root_dir, existing_clone
):
    status = await wait_done(jp_fetch)
    assert next(p for p in status["projects"] if p["project"] == PROJECT)["state"] == "fetched"
    clone = jp_root_dir / "work" / PROJECT
    assert (clone / "README.md").read_text() == "my local edit\n"
    assert "origin/feature" in run_git("branch", "-r", cwd=clone).stdout
    assert run_git("status", "--porcelain", cwd=clone).stdout == " M README.md\n"
