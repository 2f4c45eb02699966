"""The review server extension through its REST API (pytest-jupyter ``jp_fetch``), against the
GitLab stand-in (a real process serving real bare repositories over git smart HTTP)."""

from __future__ import annotations

import asyncio
import copy
import html
import inspect
import json
import os
import re
import time

import jsonschema
import pytest
import requests

# pytest-jupyter's fixtures, imported (not registered with pytest_plugins) so that its autouse
# fixtures (an event loop per test, server cleanup) stay in this module and never touch the
# other test modules' loops
from pytest_jupyter.jupyter_server import *  # noqa: E402, F401, F403

from tests.fixtures.gitlab import DEFAULT_SEED, REPO_ROOT, run_git, stop_process

# The tests are plain functions that drive pytest-jupyter's loop (the one the server runs on);
# pytest-asyncio's own loop would leave the server idle while a test awaits it.


def on_server_loop(test):
    """Run an async test body on pytest-jupyter's loop (the test must take ``jp_asyncio_loop``)."""

    def run(*args, **kwargs):
        return kwargs["jp_asyncio_loop"].run_until_complete(test(*args, **kwargs))

    run.__name__, run.__doc__, run.__signature__ = test.__name__, test.__doc__, inspect.signature(test)
    run.pytestmark = getattr(test, "pytestmark", [])
    return run


pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PROJECT = "data-science/notebooks"
WC = "projects/data-science/notebooks"
NB = f"{WC}/analysis/eda.ipynb"
BRANCH = "review/alice/analysis-eda"


def notebook(*cells, outputs=None):
    """cells: ("code"|"markdown", source); outputs: {cell index: [output dicts]}."""
    out = []
    for i, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(outputs=(outputs or {}).get(i, []), execution_count=1 if (outputs or {}).get(i) else None)
        out.append(cell)
    return {
        "cells": out,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


BASIC = notebook(
    ("markdown", "# Churn analysis"),
    ("code", "import pandas as pd\nimport numpy as np"),
    ("code", "df = pd.DataFrame({'a': [1, 2]})\ndf.describe()"),
)


ALICE_PAT = "glpat-alice-review-tests-0123456789"


@pytest.fixture
def gitlab_seed():
    # alice's token is in the seed so that it still works after the stand-in is restarted
    seed = copy.deepcopy(DEFAULT_SEED)
    alice = next(u for u in seed["users"] if u["username"] == "alice")
    alice["personal_access_tokens"] = [{"name": "review-tests", "token": ALICE_PAT, "scopes": ["api"]}]
    return seed


@pytest.fixture
def alice_token(gitlab_server):
    return ALICE_PAT


@pytest.fixture
def helper(alice_token):
    # a git credential helper for the test only (product code uses git-credential-jupyterhub-ds)
    return f"!f() {{ test \"$1\" = get && printf 'username=oauth2\\npassword=%s\\n' {alice_token}; }}; f"


@pytest.fixture
def policy():
    return {
        "commit_notebooks": False,
        "branch_prefix": "review",
        "target_branch": "main",
        "max_file_size": 200_000,
        "max_submission_size": 300_000,
        "secret_patterns": [r"corp-secret-[0-9]{6}"],
        "allowed_packages": ["numpy", "pandas", "scikit-learn"],
    }


@pytest.fixture
def working_copy(jp_root_dir, gitlab_server, alice_token):
    dest = jp_root_dir / WC
    dest.parent.mkdir(parents=True)
    run_git("clone", "--quiet", gitlab_server.repo_url(PROJECT, alice_token), str(dest))
    run_git("remote", "set-url", "origin", gitlab_server.repo_url(PROJECT), cwd=dest)  # no token in .git/config
    return dest


@pytest.fixture
def reported():
    """The review events the extension hands the hub (ReviewConfig.event_reporter)."""
    return []


@pytest.fixture
def jp_server_config(gitlab_server, alice_token, helper, policy, tmp_path, working_copy, reported):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterhub_ds.review": True, "jupyterlab_jupytext": True, "nbdime": True}
        },
        "ReviewConfig": {
            "token_source": lambda: alice_token,
            "identity_source": lambda: {"username": "alice", "name": "Alice Analyst", "email": "alice@example.com"},
            # no git_credential_helper: git gets token_source's token through the built-in pipe
            "username": "alice",
            "gitlab_url": gitlab_server.url,
            "policy": policy,
            "state_dir": str(tmp_path / "state"),
            "clone_on_start": False,
            "event_reporter": reported.append,
        },
    }


CONTRACT = json.loads((REPO_ROOT / "extensions" / "review" / "api_contract.json").read_text())


def follows_contract(endpoint, code, answer):
    """Every answer of the real handlers is what api_contract.json (and so the frontend's api.ts) says."""
    name = CONTRACT["endpoints"][endpoint]["answer"] if code == 200 else CONTRACT["errorBody"]
    jsonschema.Draft202012Validator({**CONTRACT, "$ref": f"#/$defs/{name}"}).validate(answer)


async def api(jp_fetch, method, endpoint, body=None, **params):
    kwargs = {"method": method, "raise_error": False}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if params:
        kwargs["params"] = params
    r = await jp_fetch("jupyterhub-ds", *endpoint.split("/"), **kwargs)
    answer = json.loads(r.body or b"{}")
    follows_contract(endpoint, r.code, answer)
    return r.code, answer


async def save(jp_fetch, path, nb):
    """Save through the contents API, as JupyterLab does (jupytext's contents manager pairs it)."""
    r = await jp_fetch(
        "api",
        "contents",
        *path.split("/"),
        method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": nb}),
    )
    assert r.code in (200, 201)


def remote_branches(server):
    gl = server.client()
    return sorted(b.name for b in gl.projects.get(PROJECT).branches.list(get_all=True))


def open_mrs(server):
    return server.client().projects.get(PROJECT).mergerequests.list(state="opened", get_all=True)


@on_server_loop
async def test_happy_path_pairs_commits_pushes_and_opens_one_mr_with_cell_summary(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    assert (working_copy / "analysis/eda.py").read_text().count("# %%") == 3  # paired on save
    code, check = await api(jp_fetch, "POST", "review/check", {"path": NB})
    assert code == 200 and check["ok"], check
    assert check["repo"] == {
        "root": WC,
        "project": PROJECT,
        "branch": BRANCH,
        "current_branch": "main",
        "target_branch": "main",
    }
    assert [g["gate"] for g in check["gates"]] == ["paired", "no_outputs", "secrets", "size", "syntax", "packages"]
    status_before = run_git("status", "--porcelain", cwd=working_copy).stdout
    head_before = run_git("rev-parse", "HEAD", cwd=working_copy).stdout

    code, res = await api(
        jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA", "description": "First cut."}
    )
    assert code == 200, res
    assert res["created"] is True and res["branch"] == BRANCH and res["mr"]["state"] == "opened"
    assert res["mr"]["web_url"].endswith(f"/{PROJECT}/-/merge_requests/{res['mr']['iid']}")
    assert "**3** cells added" in res["summary"]
    mr = gitlab_server.client().projects.get(PROJECT).mergerequests.get(res["mr"]["iid"])
    assert mr.source_branch == BRANCH and mr.target_branch == "main" and mr.title == "Churn EDA"
    assert mr.description.startswith("First cut.") and "#### Cell 2 added (code" in mr.description
    assert "```python\nimport pandas as pd" in mr.description
    # what was committed: the script only (the notebook stays local), as alice, on top of main
    commit = gitlab_server.client().projects.get(PROJECT).commits.get(res["commit"])
    assert commit.author_name == "Alice Analyst" and commit.author_email == "alice@example.com"
    files = sorted(d["new_path"] for d in commit.diff(get_all=True))
    assert files == ["analysis/eda.py"]
    # the working copy is exactly as before: same HEAD, same status, notebook ignored by git
    assert run_git("rev-parse", "HEAD", cwd=working_copy).stdout == head_before
    assert run_git("status", "--porcelain", cwd=working_copy).stdout == status_before
    assert "analysis/eda.ipynb" not in status_before and "jupytext.toml" not in status_before
    code, status = await api(jp_fetch, "GET", "review/status")
    assert code == 200 and status["submissions"] == [
        {"path": NB, "branch": BRANCH, "mr": {**res["mr"], "approved": False, "approvals": 0, "merged": False}}
    ]
    # the promotion service's review run of the head commit shows in the status, with its link
    gitlab_server.client().projects.get(PROJECT).commits.get(res["commit"], lazy=True).statuses.create(
        {
            "state": "running",
            "name": "jupyterhub-ds/run",
            "target_url": "http://127.0.0.1:9/services/promotion/r",
            "description": "running the changed notebooks in a clean container",
            "ref": BRANCH,
        }
    )
    code, status = await api(jp_fetch, "GET", "review/status")
    assert status["submissions"][0]["run"] == {
        "state": "running",
        "sha": res["commit"],
        "target_url": "http://127.0.0.1:9/services/promotion/r",
        "description": "running the changed notebooks in a clean container",
    }


@on_server_loop
async def test_resubmit_updates_the_same_branch_and_mr_and_status_follows_approval_and_merge(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200, first
    edited = json.loads(json.dumps(BASIC))
    edited["cells"][2]["source"] = "df = pd.DataFrame({'a': [1, 2, 3]})\ndf.describe()"
    await save(jp_fetch, NB, edited)
    code, second = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA v2"})
    assert code == 200, second
    assert second["created"] is False and second["mr"]["iid"] == first["mr"]["iid"]
    assert second["commit"] != first["commit"]
    # the description describes the whole merge request (against main), now with the edit
    assert "**3** cells added" in second["summary"] and "df = pd.DataFrame({'a': [1, 2, 3]})" in second["summary"]
    mrs = open_mrs(gitlab_server)
    assert [(m.iid, m.title) for m in mrs] == [(first["mr"]["iid"], "Churn EDA v2")]
    # the branch history carries on from the first submit
    commits = [c.id for c in gitlab_server.client().projects.get(PROJECT).commits.list(ref_name=BRANCH, get_all=True)]
    assert commits[:2] == [second["commit"], first["commit"]]

    bob = gitlab_server.client(gitlab_server.user_token("bob", ["api"]))
    bob_mr = bob.projects.get(PROJECT).mergerequests.get(first["mr"]["iid"])
    bob_mr.approve()
    code, status = await api(jp_fetch, "GET", "review/status", path=NB)
    assert status["submissions"][0]["mr"]["approved"] is True and status["submissions"][0]["mr"]["approvals"] == 1
    bob_mr.merge()
    code, status = await api(jp_fetch, "GET", "review/status", path=NB)
    assert status["submissions"][0]["mr"]["merged"] is True and status["submissions"][0]["mr"]["state"] == "merged"


@on_server_loop
async def test_twenty_concurrent_submits_make_exactly_one_mr(jp_asyncio_loop, jp_fetch, working_copy, gitlab_server):
    await save(jp_fetch, NB, BASIC)
    results = await asyncio.gather(
        *(api(jp_fetch, "POST", "review/submit", {"path": NB, "title": f"Click {i}"}) for i in range(20))
    )
    codes = sorted(code for code, _ in results)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}, results
    busy = [body["message"] for code, body in results if code == 409]
    assert all("already being submitted" in m for m in busy)
    assert len(open_mrs(gitlab_server)) == 1
    assert remote_branches(gitlab_server) == ["main", BRANCH]


GATE_CASES = {
    "paired": (
        lambda wc: (wc / "analysis/eda.py").write_text("# %%\nprint('edited by hand')\n"),
        "analysis/eda.ipynb cell 1 differs from analysis/eda.py",
    ),
    "secrets": (
        None,
        "analysis/eda.ipynb cell 2: output contains what looks like a GitLab token (glpat-…); "
        "clear the output and remove the token from the code, then submit again",
    ),
    "size": (None, "analysis/eda.ipynb is"),
    "syntax": (None, re.compile(r"analysis/eda\.py line \d+ \(cell 2 of eda\.ipynb\): invalid syntax; fix the code")),
    "packages": (
        None,
        "analysis/eda.ipynb cell 2: imports 'yaml' (package pyyaml), which is not on the allowed package list",
    ),
}


def gate_notebook(gate):
    if gate == "secrets":
        out = [{"output_type": "stream", "name": "stdout", "text": "token glpat-abcdefghijklmnopqrstuvwxyz\n"}]
        return notebook(("markdown", "# t"), ("code", "print(token)"), outputs={1: out})
    if gate == "size":
        out = [{"output_type": "stream", "name": "stdout", "text": "x" * 250_000}]
        return notebook(("markdown", "# t"), ("code", "print('x' * 250000)"), outputs={1: out})
    if gate == "syntax":
        return notebook(("markdown", "# t"), ("code", "def f(:\n    pass"))
    if gate == "packages":
        return notebook(("markdown", "# t"), ("code", "import os\nimport sklearn\nimport yaml\nimport pandas"))
    return BASIC


@pytest.mark.parametrize("gate", sorted(GATE_CASES))
@on_server_loop
async def test_each_gate_refuses_with_its_message_and_nothing_is_pushed(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, gate
):
    await save(jp_fetch, NB, gate_notebook(gate))
    tamper, expected = GATE_CASES[gate]
    if tamper:
        tamper(working_copy)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 422, res
    failed = [g for g in res["gates"] if not g["ok"]]
    assert [g["gate"] for g in failed] == [gate]
    match = expected.match if isinstance(expected, re.Pattern) else (lambda m: m.startswith(expected))
    assert any(match(m) for m in failed[0]["messages"]), failed[0]["messages"]
    assert f"({gate})" in res["message"]
    assert remote_branches(gitlab_server) == ["main"] and open_mrs(gitlab_server) == []


@pytest.mark.parametrize("strip", [False])
@on_server_loop
async def test_no_outputs_gate_refuses_committed_outputs_when_stripping_is_off(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy, gitlab_server, policy, strip
):
    settings = jp_serverapp.web_app.settings["jupyterhub_ds_review"].settings
    settings.strip_outputs = strip
    settings.policy = {**policy, "commit_notebooks": True}
    out = [{"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 1}]
    await save(jp_fetch, NB, notebook(("markdown", "# t"), ("code", "1 + 2"), outputs={1: out}))
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 422
    failed = [g for g in res["gates"] if not g["ok"]]
    assert [g["gate"] for g in failed] == ["no_outputs"]
    assert failed[0]["messages"] == [
        "analysis/eda.ipynb cell 2: outputs would be committed; clear them "
        "(Edit > Clear Outputs of All Cells), save, then submit again"
    ]
    assert remote_branches(gitlab_server) == ["main"]


@on_server_loop
async def test_commit_notebooks_commits_the_notebook_without_outputs(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy, gitlab_server, policy
):
    jp_serverapp.web_app.settings["jupyterhub_ds_review"].settings.policy = {**policy, "commit_notebooks": True}
    out = [{"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 1}]
    await save(jp_fetch, NB, notebook(("markdown", "# t"), ("code", "1 + 2"), outputs={1: out}))
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "with notebook"})
    assert code == 200, res
    project = gitlab_server.client().projects.get(PROJECT)
    committed = json.loads(project.files.raw(file_path="analysis/eda.ipynb", ref=BRANCH))
    assert committed["cells"][1]["outputs"] == [] and committed["cells"][1]["execution_count"] is None
    local = json.loads((working_copy / "analysis/eda.ipynb").read_text())["cells"][1]["outputs"]
    assert "".join(local[0]["data"]["text/plain"]) == "3"  # the user's notebook keeps its outputs


@pytest.mark.parametrize(
    "path, expected",
    [
        ("projects/data-science/notebooks/../../../etc/passwd.ipynb", "paths with '..' are refused"),
        ("/etc/passwd.ipynb", "absolute paths are refused"),
        ("projects/data-science/notebooks/linked.ipynb", "symlink to a file outside its git working copy"),
        ("outside.ipynb", "is not inside a git working copy"),
        ("projects/data-science/notebooks/README.md", "is not a notebook"),
        ("projects/data-science/notebooks/missing.ipynb", "does not exist"),
    ],
)
@on_server_loop
async def test_paths_outside_the_working_copy_are_refused(
    jp_asyncio_loop, jp_fetch, jp_root_dir, working_copy, gitlab_server, path, expected
):
    outside = jp_root_dir / "outside.ipynb"
    outside.write_text(json.dumps(BASIC))
    os.symlink(outside, working_copy / "linked.ipynb")
    for endpoint in ("review/check", "review/submit"):
        code, res = await api(jp_fetch, "POST", endpoint, {"path": path, "title": "t"})
        assert code == 400 and expected in res["message"], res
    assert remote_branches(gitlab_server) == ["main"]


@on_server_loop
async def test_html_in_the_title_is_escaped_on_the_merge_request_pages(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    title = "<script>alert('x')</script> <b>bold</b>"
    code, res = await api(
        jp_fetch, "POST", "review/submit", {"path": NB, "title": title, "description": "<img src=x onerror=alert(1)>"}
    )
    assert code == 200 and res["mr"]["title"] == title
    session = requests.Session()
    form = session.get(f"{gitlab_server.url}/users/sign_in", timeout=10).text
    xsrf = html.unescape(re.search(r'name="_xsrf" value="([^"]+)"', form).group(1))
    session.post(
        f"{gitlab_server.url}/users/sign_in",
        timeout=10,
        data={"_xsrf": xsrf, "user[login]": "bob", "user[password]": "bob-pass-1", "redirect_to": "/"},
    )
    for page in (f"/{PROJECT}", f"/{PROJECT}/-/merge_requests/{res['mr']['iid']}"):
        text = session.get(gitlab_server.url + page, timeout=10).text
        assert "&lt;script&gt;alert(" in text, page
        assert "<script>alert" not in text and "<b>bold</b>" not in text and "<img src=x" not in text


@on_server_loop
async def test_gitlab_down_gives_502_keeps_the_notebook_and_retry_after_restart_makes_one_mr(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, tmp_path
):
    await save(jp_fetch, NB, BASIC)
    stop_process(gitlab_server.process)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 502 and "is not reachable" in res["message"] and "your notebook is unchanged" in res["message"], res
    kept = json.loads((working_copy / "analysis/eda.ipynb").read_text())["cells"][1]["source"]
    assert "".join(kept) == BASIC["cells"][1]["source"]
    restarted = restart_on(gitlab_server, tmp_path)
    try:
        code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
        assert code == 200, res
        assert [m.source_branch for m in open_mrs(restarted)] == [BRANCH]
    finally:
        stop_process(restarted.process)


@pytest.fixture
def helper_that_stops_gitlab_after_push(alice_token, gitlab_server, tmp_path):
    """git calls the helper with 'store' once its credentials worked: after the fetch (1) and
    early in the push (2); at 2 it stops the stand-in, in the middle of the push."""
    count = tmp_path / "store-count"
    return (
        f"!f() {{ if [ \"$1\" = get ]; then printf 'username=oauth2\\npassword=%s\\n' {alice_token}; "
        f'elif [ "$1" = store ]; then echo x >> {count}; '
        f"if [ $(wc -l < {count}) -eq 2 ]; then kill {gitlab_server.process.pid}; sleep 1; fi; fi; }}; f"
    )


@on_server_loop
async def test_gitlab_stopped_mid_push_gives_502_and_retry_after_restart_makes_one_mr(
    jp_asyncio_loop,
    jp_fetch,
    jp_serverapp,
    working_copy,
    gitlab_server,
    tmp_path,
    helper,
    helper_that_stops_gitlab_after_push,
):
    await save(jp_fetch, NB, BASIC)
    settings = jp_serverapp.web_app.settings["jupyterhub_ds_review"].settings
    settings.git_credential_helper = helper_that_stops_gitlab_after_push
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 502 and "is not reachable" in res["message"], res
    gitlab_server.process.wait(10)
    settings.git_credential_helper = ""  # the built-in helper again
    restarted = restart_on(gitlab_server, tmp_path)
    try:
        code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
        assert code == 200 and res["created"] is True, res
        code, again = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
        assert code == 200 and again["created"] is False and again["mr"]["iid"] == res["mr"]["iid"]
        assert [m.source_branch for m in open_mrs(restarted)] == [BRANCH]
    finally:
        stop_process(restarted.process)


@on_server_loop
async def test_expired_token_after_the_push_gives_502_and_retry_finds_the_branch_and_creates_the_mr(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy, gitlab_server, alice_token, helper
):
    await save(jp_fetch, NB, BASIC)
    settings = jp_serverapp.web_app.settings["jupyterhub_ds_review"].settings
    settings.git_credential_helper = helper  # git still has good credentials
    settings.token_source = lambda: "expired-oauth-token"
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 502, res
    assert res["message"].startswith("GitLab refused your access token (401); it may have expired: reload JupyterLab")
    assert f"the branch {BRANCH} was pushed" in res["message"]
    assert remote_branches(gitlab_server) == ["main", BRANCH] and open_mrs(gitlab_server) == []
    settings.token_source = lambda: alice_token
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200 and res["created"] is True, res
    assert [m.source_branch for m in open_mrs(gitlab_server)] == [BRANCH]


def restart_on(server, tmp_path):
    """The stand-in again on the same port and data dir (the bare repositories survive)."""
    import subprocess
    import sys

    from tests.fixtures.gitlab import REPO_ROOT, GitLabServer

    port = int(server.url.rsplit(":", 1)[1])
    seed_path = tmp_path / "gitlab" / "seed.json"
    log_path = tmp_path / "gitlab-restarted.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fake_gitlab",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--seed",
                str(seed_path),
                "--data-dir",
                str(server.data_dir),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    line = proc.stdout.readline()
    assert line.startswith(b"ready "), (line, log_path.read_text())
    return GitLabServer(line.decode().split()[1], server.seed, server.admin_token, server.data_dir, proc, log_path)


def edit(nb, cell, source):
    changed = copy.deepcopy(nb)
    changed["cells"][cell]["source"] = source
    return changed


def reviewer_pushes_a_note(server):
    """bob commits analysis/NOTES.md onto alice's review branch; -> his commit."""
    bob = server.client(server.user_token("bob", ["api"])).projects.get(PROJECT)
    return bob.commits.create(
        {
            "branch": BRANCH,
            "commit_message": "reviewer note",
            "actions": [{"action": "create", "file_path": "analysis/NOTES.md", "content": "ok\n"}],
        }
    )


@on_server_loop
async def test_review_branch_moved_on_gitlab_is_carried_on_and_stays_one_mr(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200, first
    # a reviewer pushes a commit of their own onto the review branch
    theirs = reviewer_pushes_a_note(gitlab_server)
    await save(jp_fetch, NB, edit(BASIC, 2, "df = pd.DataFrame({'a': [3]})"))
    code, second = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200 and second["mr"]["iid"] == first["mr"]["iid"] and not second["created"], second
    project = gitlab_server.client().projects.get(PROJECT)
    assert project.commits.get(second["commit"]).parent_ids == [theirs.id]
    assert project.files.raw(file_path="analysis/NOTES.md", ref=BRANCH) == b"ok\n"
    assert b"pd.DataFrame({'a': [3]})" in project.files.raw(file_path="analysis/eda.py", ref=BRANCH)
    assert len(open_mrs(gitlab_server)) == 1


@on_server_loop
async def test_after_the_mr_is_merged_a_new_submit_starts_a_new_mr_from_the_target(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v1"})
    assert code == 200, first
    bob = gitlab_server.client(gitlab_server.user_token("bob", ["api"])).projects.get(PROJECT)
    bob.mergerequests.get(first["mr"]["iid"]).merge()
    await save(jp_fetch, NB, edit(BASIC, 2, "df = pd.DataFrame({'a': [1, 2]})\ndf.tail()"))
    code, second = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v2"})
    assert code == 200 and second["created"] is True and second["mr"]["iid"] != first["mr"]["iid"], second
    assert "**0** cells added, **0** removed, **1** changed." in second["summary"]
    assert "-df.describe()\n+df.tail()" in second["summary"]
    main_sha = gitlab_server.client().projects.get(PROJECT).branches.get("main").commit["id"]
    assert gitlab_server.client().projects.get(PROJECT).commits.get(second["commit"]).parent_ids == [main_sha]
    code, status = await api(jp_fetch, "GET", "review/status", path=NB)
    assert status["submissions"][0]["mr"]["iid"] == second["mr"]["iid"]


@on_server_loop
async def test_a_review_branch_moved_after_the_dialogs_check_is_caught_by_the_lease(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, caplog
):
    """The check (the dialog opening) fetches; the submit starts from that fetch, so a branch moved
    between the two must still be carried on, never overwritten."""
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200, first
    await save(jp_fetch, NB, edit(BASIC, 2, "df = pd.DataFrame({'a': [3]})"))
    code, checked = await api(jp_fetch, "POST", "review/check", {"path": NB})
    assert code == 200 and checked["ok"], checked
    await asyncio.sleep(2)  # the dialog is open; its fetch has finished
    theirs = reviewer_pushes_a_note(gitlab_server)
    caplog.set_level("INFO")
    code, second = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200 and second["mr"]["iid"] == first["mr"]["iid"], second
    project = gitlab_server.client().projects.get(PROJECT)
    assert project.commits.get(second["commit"]).parent_ids == [theirs.id]
    assert project.files.raw(file_path="analysis/NOTES.md", ref=BRANCH) == b"ok\n"
    assert "moved on GitLab; rebuilding it" in caplog.text  # the check's fetch was used, and the lease said no


def merge_keeping_the_branch(server, iid):
    bob = server.client(server.user_token("bob", ["api"])).projects.get(PROJECT)
    mr = bob.mergerequests.get(iid)
    mr.remove_source_branch = False
    mr.save()
    bob.mergerequests.get(iid).merge(should_remove_source_branch=False)
    return bob


@on_server_loop
async def test_a_target_that_moved_since_the_last_fetch_is_checked_before_the_mr_is_updated(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, caplog
):
    """A submit pushes from what the working copy knew, while it fetches: here the review branch
    was merged (and kept) meanwhile, so the commit is built again on the new target."""
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v1"})
    assert code == 200, first
    merge_keeping_the_branch(gitlab_server, first["mr"]["iid"])
    await save(jp_fetch, NB, edit(BASIC, 2, "df = pd.DataFrame({'a': [1, 2]})\ndf.tail()"))
    caplog.set_level("INFO")
    code, second = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v2"})
    assert code == 200 and second["created"] is True and second["mr"]["iid"] != first["mr"]["iid"], second
    project = gitlab_server.client().projects.get(PROJECT)
    main_sha = project.branches.get("main").commit["id"]
    assert project.commits.get(second["commit"]).parent_ids == [main_sha]
    assert project.branches.get(BRANCH).commit["id"] == second["commit"]
    assert "-df.describe()\n+df.tail()" in second["summary"]
    assert "Target main moved since the last fetch; rebuilding" in caplog.text  # the path this test is about


@on_server_loop
async def test_nothing_new_on_the_moved_target_puts_the_review_branch_back(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, caplog
):
    await save(jp_fetch, NB, BASIC)
    code, first = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v1"})
    assert code == 200, first
    bob = merge_keeping_the_branch(gitlab_server, first["mr"]["iid"])
    # the user's next version reaches main another way before they submit it
    await save(jp_fetch, NB, edit(BASIC, 2, "df = pd.DataFrame({'a': [1, 2]})\ndf.tail()"))
    script = (working_copy / "analysis/eda.py").read_text()
    bob.commits.create(
        {
            "branch": "main",
            "commit_message": "same as alice's",
            "actions": [{"action": "update", "file_path": "analysis/eda.py", "content": script}],
        }
    )
    caplog.set_level("INFO")
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "v2"})
    assert code == 400 and res["message"].startswith("nothing to submit: analysis/eda.py is the same as on 'main'"), res
    project = gitlab_server.client().projects.get(PROJECT)
    assert project.branches.get(BRANCH).commit["id"] == first["commit"]  # as it was before this submit
    assert "Target main moved since the last fetch; rebuilding" in caplog.text
    assert len(open_mrs(gitlab_server)) == 0


@on_server_loop
async def test_nothing_changed_is_refused_with_a_hint(jp_asyncio_loop, jp_fetch, working_copy, gitlab_server):
    (working_copy / "analysis").mkdir(exist_ok=True)
    await save(jp_fetch, NB, BASIC)
    run_git("add", "-f", "analysis/eda.py", cwd=working_copy)
    run_git("commit", "-qm", "script on main", cwd=working_copy)
    run_git(
        "-c",
        f"credential.helper=!f() {{ printf 'username=oauth2\\npassword={ALICE_PAT}\\n'; }}; f",
        "push",
        "-q",
        "origin",
        "HEAD:refs/heads/main-copy",
        cwd=working_copy,
    )
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t", "target_branch": "main-copy"})
    assert code == 400, res
    assert res["message"].startswith("nothing to submit: analysis/eda.py is the same as on 'main-copy'")
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t", "target_branch": "no-such"})
    assert code == 400 and "the target branch 'no-such' does not exist on GitLab" in res["message"]
    assert remote_branches(gitlab_server) == ["main", "main-copy"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"path": NB, "title": "x" * 300}, '"title" must be text of at most 255 characters'),
        ({"path": NB, "title": "t", "target_branch": "../main"}, "is not a valid branch name"),
        ({"path": NB, "title": "t", "description": 5}, '"description" must be text'),
    ],
)
@on_server_loop
async def test_bad_submit_input_is_400(jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, body, fragment):
    code, res = await api(jp_fetch, "POST", "review/submit", body)
    assert code == 400 and fragment in res["message"]


@on_server_loop
async def test_push_refused_by_gitlab_is_502_with_the_reason(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    dave = gitlab_server.user_token("dave", ["api"])  # Reporter: may read, may not push
    settings = jp_serverapp.web_app.settings["jupyterhub_ds_review"].settings
    settings.git_credential_helper = (
        f"!f() {{ test \"$1\" = get && printf 'username=oauth2\\npassword=%s\\n' {dave}; }}; f"
    )
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 502 and res["message"].startswith("GitLab "), res
    assert dave not in res["message"] and remote_branches(gitlab_server) == ["main"]


@on_server_loop
async def test_a_working_copy_not_from_gitlab_is_refused(jp_asyncio_loop, jp_fetch, working_copy, gitlab_server):
    run_git("remote", "set-url", "origin", "https://example.invalid/x/y.git", cwd=working_copy)
    await save(jp_fetch, NB, BASIC)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 400 and "the working copy's 'origin' is not a project on http://127.0.0.1" in res["message"]


@on_server_loop
async def test_nbdime_server_extension_still_answers_next_to_ours(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    r = await jp_fetch("nbdime", "api", "diff", method="POST", body=json.dumps({"base": NB, "remote": NB}))
    assert r.code == 200 and "diff" in json.loads(r.body)
    r = await jp_fetch("nbdime", "difftool", method="GET")
    assert r.code == 200


@on_server_loop
async def test_status_with_gitlab_down_is_502_and_lists_nothing_before_a_submit(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    code, status = await api(jp_fetch, "GET", "review/status")
    assert code == 200 and status == {"submissions": []}
    await save(jp_fetch, NB, BASIC)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 200
    stop_process(gitlab_server.process)
    code, status = await api(jp_fetch, "GET", "review/status")
    assert code == 502 and "is not reachable" in status["message"]


@on_server_loop
async def test_a_repo_cloned_while_the_server_runs_is_paired_from_the_next_save(
    jp_asyncio_loop, jp_fetch, jp_root_dir, gitlab_server, alice_token
):
    later = jp_root_dir / "projects" / "data-science" / "later"
    run_git("clone", "--quiet", gitlab_server.repo_url(PROJECT, alice_token), str(later))
    path = "projects/data-science/later/eda.ipynb"
    await save(jp_fetch, path, BASIC)
    assert (later / "jupytext.toml").exists() and not (later / "eda.py").exists()
    await save(jp_fetch, path, BASIC)
    assert (later / "eda.py").exists()
    assert run_git("status", "--porcelain", cwd=later).stdout == "?? eda.py\n"  # notebook and config ignored


@on_server_loop
async def test_a_200_mb_notebook_is_refused_without_being_read(jp_asyncio_loop, jp_fetch, working_copy, gitlab_server):
    await save(jp_fetch, NB, BASIC)
    with open(working_copy / "analysis/eda.ipynb", "r+b") as f:  # a sparse 200 MB file: cheap to make
        f.truncate(200 * 1024 * 1024)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 422 and "(size)" in res["message"]
    size = next(g for g in res["gates"] if g["gate"] == "size")
    assert size["messages"] == [
        "analysis/eda.ipynb is 200.0 MB, above the limit of 195.3 KB per file; clear large "
        "outputs (Edit > Clear Outputs of All Cells), save, then submit again"
    ]
    assert remote_branches(gitlab_server) == ["main"]


@pytest.mark.parametrize("policy", [{"max_file_size": "10M"}])
@on_server_loop
async def test_a_bad_policy_from_the_hub_refuses_submits_with_the_key_and_the_server_runs(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, policy
):
    await save(jp_fetch, NB, BASIC)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 500 and res["message"].startswith(
        "the review policy set by the hub is invalid (review policy "
        "max_file_size='10M' must be a positive number of bytes)"
    )
    code, info = await api(jp_fetch, "GET", "info")
    assert code == 200 and remote_branches(gitlab_server) == ["main"]


@on_server_loop
async def test_the_contents_manager_save_hook_knows_the_pair_until_a_file_changes(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy, gitlab_server
):
    saves = jp_serverapp.web_app.settings["jupyterhub_ds_review"].saves
    await save(jp_fetch, NB, BASIC)
    notebook = (working_copy / "analysis/eda.ipynb").resolve()
    assert saves.in_sync(notebook)
    (working_copy / "analysis/eda.py").write_text("# %%\nprint('edited by hand')\n")
    assert not saves.in_sync(notebook)
    code, check = await api(jp_fetch, "POST", "review/check", {"path": NB})
    assert code == 200 and not check["ok"] and not check["gates"][0]["ok"]


@on_server_loop
async def test_a_broken_working_copy_is_400_and_the_notebook_can_be_submitted_after_repair(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server
):
    await save(jp_fetch, NB, BASIC)
    head = (working_copy / ".git/HEAD").read_text()
    (working_copy / ".git/HEAD").write_text("garbage\n")
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 400 and "is not a usable git working copy" in res["message"], res
    (working_copy / ".git/HEAD").write_text(head)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 200, res  # not stuck as "already being submitted"


@on_server_loop
async def test_the_summary_worker_starts_at_the_first_review_request_not_with_the_server(
    jp_asyncio_loop, jp_fetch, jp_serverapp, working_copy
):
    """A server's start stays short (a team starting at once pays for every extra process): the
    summary worker is started by the first review request, and is ready for the submit."""
    (review,) = jp_serverapp.extension_manager.extension_apps["jupyterhub_ds.review"]
    assert review.worker._current is None
    code, _ = await api(jp_fetch, "GET", "review/status")
    assert code == 200
    deadline = time.monotonic() + 30
    while review.worker._current is None:
        assert time.monotonic() < deadline, "the summary worker was not started"
        await asyncio.sleep(0.05)
    assert await asyncio.get_running_loop().run_in_executor(None, review.worker._current.wait_ready, 60)


@on_server_loop
async def test_each_submit_outcome_is_handed_to_the_hubs_audit_trail(
    jp_asyncio_loop, jp_fetch, working_copy, gitlab_server, reported
):
    await save(jp_fetch, NB, gate_notebook("secrets"))
    code, refused = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "t"})
    assert code == 422
    await save(jp_fetch, NB, BASIC)
    code, res = await api(jp_fetch, "POST", "review/submit", {"path": NB, "title": "Churn EDA"})
    assert code == 200, res
    for _ in range(50):  # handed over after the answer, in the background
        if len(reported) == 2:
            break
        await asyncio.sleep(0.1)
    refusal, submit = reported
    assert {k: v for k, v in refusal.items() if k != "latency_seconds"} == {
        "action": "review.refused",
        "gates": ["secrets"],
        "status": 422,
        "paths": [NB, NB[: -len(".ipynb")] + ".py"],
    }
    assert {k: v for k, v in submit.items() if k != "latency_seconds"} == {
        "action": "review.submit",
        "paths": [NB, NB[: -len(".ipynb")] + ".py"],
        "branch": BRANCH,
        "project": PROJECT,
        "mr_iid": res["mr"]["iid"],
        "mr_url": res["mr"]["web_url"],
        "created": True,
    }
    assert 0 < submit["latency_seconds"] < 60
    # what the hub will write: the review event schema's fields, no notebook content
    assert "import pandas" not in json.dumps(reported)
