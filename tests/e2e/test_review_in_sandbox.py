"""Flow 2 as a user lives it: the real single-user image behind the real hub, the project cloned
at server start, a notebook edited in JupyterLab and submitted with the button; the merge
request lands in the GitLab stand-in with the cell-level summary. A notebook with a token in an
output is refused in the dialog and nothing is pushed.

The GitLab token comes from the hub through the credential helper (nothing is configured by
the test inside the container).
"""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.review_ui import DIALOG, TOOLBAR_BUTTON
from tests.fixtures.sandbox import browser_sign_in as sign_in

pytestmark = pytest.mark.e2e

PROJECT = "data-science/notebooks"
CLONE = f"/home/jovyan/projects/{PROJECT}"
LEAKY_TOKEN = "glpat-" + "Zx9" * 7  # looks like a GitLab personal access token


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def notebook_json(source, outputs=()):
    cell = {
        "cell_type": "code",
        "execution_count": 1 if outputs else None,
        "metadata": {},
        "outputs": list(outputs),
        "source": source,
    }
    return json.dumps(
        {
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Churn"}, cell],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def put_file(sandbox, user, path, text):
    rc, out = sandbox.exec(user, ["python", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, text])
    assert rc == 0, out


def remote_branches(sandbox):
    gl = sandbox.gitlab.client(sandbox.gitlab.admin_token)
    return [b.name for b in gl.projects.get(PROJECT).branches.list(get_all=True)]


def test_submit_for_review_from_jupyterlab_in_the_sandbox(browser_page, sandbox):
    page = browser_page
    sign_in(page, sandbox, "alice")
    page.goto(f"{sandbox.hub.url}/hub/spawn")
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/user/alice/lab"), timeout=120_000)

    # the project was cloned into ~/projects when the server started
    wait_for(lambda: sandbox.exec("alice", f"test -f {CLONE}/eda.py")[0] == 0, 60, "the workspace clone")
    put_file(sandbox, "alice", f"{CLONE}/churn.ipynb", notebook_json("rate = 0.1\nprint(rate)"))
    put_file(
        sandbox,
        "alice",
        f"{CLONE}/leaky.ipynb",
        notebook_json("print(token)", [{"output_type": "stream", "name": "stdout", "text": f"{LEAKY_TOKEN}\n"}]),
    )

    page.goto(f"{sandbox.hub.url}/user/alice/lab/tree/projects/{PROJECT}/churn.ipynb?reset")
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=60_000)
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nrate = 0.2")
    page.locator(TOOLBAR_BUTTON).click()

    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=60_000)
    dialog.locator("input.jp-jhds-Title").fill("Churn rate <b>0.2</b>")
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/submit"), timeout=120_000) as answer:
        dialog.locator(".jp-jhds-SubmitButton").click()
    assert answer.value.status == 200, answer.value.text()
    result = answer.value.json()
    link = dialog.locator(".jp-jhds-Success a.jp-jhds-MRLink")
    expect(link).to_have_text("Churn rate <b>0.2</b>")
    expect(link).to_have_attribute("href", result["mr"]["web_url"])

    # the merge request in GitLab carries the cell-level summary of the edit
    gl = sandbox.gitlab.client(sandbox.gitlab.admin_token)
    (mr,) = gl.projects.get(PROJECT).mergerequests.list(source_branch=result["branch"], get_all=True)
    assert result["branch"].startswith("review/alice/")
    assert mr.title == "Churn rate <b>0.2</b>" and mr.author["username"] == "alice"
    assert "rate = 0.2" in mr.description
    assert re.search(r"cell", mr.description, re.I), mr.description
    page.locator(".jp-Dialog-footer button", has_text="Close").click()

    # a notebook with a token in an output is refused in the dialog; nothing is pushed
    before = remote_branches(sandbox)
    page.goto(f"{sandbox.hub.url}/user/alice/lab/tree/projects/{PROJECT}/leaky.ipynb?reset")  # only this tab
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=60_000)
    page.locator(TOOLBAR_BUTTON).click()
    gates = page.locator(DIALOG).locator(".jp-jhds-Gates")
    expect(gates).to_contain_text("leaky.ipynb", timeout=60_000)
    expect(gates).to_contain_text("GitLab", timeout=10_000)
    expect(page.locator(DIALOG).locator(".jp-jhds-SubmitButton")).to_be_disabled()
    assert remote_branches(sandbox) == before
