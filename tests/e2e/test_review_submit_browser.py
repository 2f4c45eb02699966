"""A whole "Submit for review" from the browser: real JupyterLab + server extension + the GitLab
stand-in (a real process with git smart HTTP) + Chromium.

The user (alice) edits a notebook in her clone of ``data-science/notebooks``, submits it with a
title containing HTML, gets the merge request link (opening in a new tab), submits again (the
same MR is updated), and sees it with its approvals in the Reviews panel. The server extension
is pointed at the stand-in through ``c.ReviewConfig`` (token and identity sources that a real
single-user server gets from the hub).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.lab_server import start_lab
from tests.e2e.review_ui import DIALOG, PANEL_TAB, TOOLBAR_BUTTON
from tests.fixtures.gitlab import run_git

pytestmark = pytest.mark.e2e

PROJECT = "data-science/notebooks"
NOTEBOOK = f"projects/{PROJECT}/analysis/report.ipynb"
TITLE = 'Churn <b>v2</b> <img src=x onerror="window.__jhdsXss=1">'

CONFIG = """\
c.ReviewConfig.token_source = lambda: {token!r}
c.ReviewConfig.identity_source = lambda: {identity!r}
c.ReviewConfig.username = "alice"
c.ReviewConfig.gitlab_url = {url!r}
c.ReviewConfig.git_credential_helper = {helper!r}
c.ReviewConfig.clone_on_start = False
c.ReviewConfig.state_dir = {state!r}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, gitlab_server_session):
    gl = gitlab_server_session
    base = tmp_path_factory.mktemp("review-submit-lab")
    root = base / "home"
    token = gl.user_token("alice")
    clone = root / "projects" / PROJECT
    clone.parent.mkdir(parents=True)
    run_git("clone", "-q", gl.repo_url(PROJECT, token), str(clone))
    run_git("remote", "set-url", "origin", gl.repo_url(PROJECT), cwd=clone)  # no token on disk in .git
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Churn report"), nbformat.v4.new_code_cell("rate = 0.1")]
    (clone / "analysis").mkdir(exist_ok=True)
    nbformat.write(nb, clone / "analysis" / "report.ipynb")
    helper = "!f() { test \"$1\" = get && printf 'username=oauth2\\npassword=%s\\n' " + token + "; }; f"
    config = CONFIG.format(
        token=token,
        identity={"username": "alice", "name": "Alice Analyst", "email": "alice@example.com"},
        url=gl.url,
        helper=helper,
        state=str(base / "state"),
    )
    lab = start_lab(base, root, config_py=config)
    try:
        yield gl, lab
    finally:
        lab.stop()


def _merge_requests(gl, branch):
    r = requests.get(
        f"{gl.url}/api/v4/projects/{requests.utils.quote(PROJECT, safe='')}/merge_requests",
        params={"source_branch": branch},
        headers={"PRIVATE-TOKEN": gl.admin_token},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def _submit(page, title):
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=30_000)
    dialog.locator("input.jp-jhds-Title").fill(title)
    dialog.locator("textarea.jp-jhds-Description").fill("Rate now 0.2 after the Q3 review.")
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/submit"), timeout=60_000) as answer:
        dialog.locator(".jp-jhds-SubmitButton").click()
        expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_disabled()
    assert answer.value.status == 200, answer.value.text()
    return answer.value.json()


def test_submit_from_the_dialog_opens_one_merge_request_and_the_panel_follows_it(setup, browser_page):
    gl, lab = setup
    page = browser_page
    page.goto(lab.page_url(f"lab/tree/{NOTEBOOK}?reset"))
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=45_000)
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.type("2")
    page.locator(TOOLBAR_BUTTON).click()

    first = _submit(page, TITLE)
    dialog = page.locator(DIALOG)
    success = dialog.locator(".jp-jhds-Success")
    expect(success).to_contain_text(f"Merge request !{first['mr']['iid']} created")
    link = success.locator("a.jp-jhds-MRLink")
    expect(link).to_have_text(TITLE)  # the HTML is shown as text
    expect(link).to_have_attribute("href", first["mr"]["web_url"])
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    assert dialog.locator("b, img").count() == 0
    assert page.evaluate("window.__jhdsXss") is None

    assert first["branch"].startswith("review/alice/")
    mrs = _merge_requests(gl, first["branch"])
    assert [(m["iid"], m["title"], m["target_branch"]) for m in mrs] == [(first["mr"]["iid"], TITLE, "main")]
    assert mrs[0]["web_url"] == first["mr"]["web_url"]

    with page.context.expect_page() as new_tab:
        link.click()
    opened = urlsplit(new_tab.value.url)
    # the stand-in sends a signed-out browser to its sign-in page, remembering where it was going
    went_to = parse_qs(opened.query).get("redirect_to", [opened.path])[0]
    assert went_to == urlsplit(first["mr"]["web_url"]).path, new_tab.value.url
    new_tab.value.close()

    second = _submit(page, TITLE + " (2)")  # the same notebook again: the same MR, updated
    expect(success).to_contain_text(f"Merge request !{first['mr']['iid']} updated")
    assert second["mr"]["iid"] == first["mr"]["iid"] and second["created"] is False
    assert [m["iid"] for m in _merge_requests(gl, first["branch"])] == [first["mr"]["iid"]]
    page.locator(".jp-Dialog-footer button", has_text="Close").click()

    # the Reviews panel lists it; after bob approves, a refresh shows the approval
    page.locator(PANEL_TAB).click()
    panel = page.locator("#jupyterhub-ds-review-status")
    entry = panel.locator(".jp-jhds-Submission", has_text="report.ipynb")
    expect(entry.locator("a.jp-jhds-MRLink")).to_have_attribute("href", first["mr"]["web_url"])
    expect(entry.locator(".jp-jhds-SubmissionState")).to_have_text("opened, 0 approvals")
    bob = gl.user_token("bob")
    project = requests.utils.quote(PROJECT, safe="")
    r = requests.post(
        f"{gl.url}/api/v4/projects/{project}/merge_requests/{first['mr']['iid']}/approve",
        headers={"PRIVATE-TOKEN": bob},
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/status")) as status:
        panel.locator(".jp-jhds-RefreshButton").click()
    assert status.value.status == 200, status.value.text()
    expect(entry.locator(".jp-jhds-SubmissionState")).to_have_text("opened, approved (1)")

    r = requests.put(
        f"{gl.url}/api/v4/projects/{project}/merge_requests/{first['mr']['iid']}/merge",
        headers={"PRIVATE-TOKEN": bob},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    panel.locator(".jp-jhds-RefreshButton").click()
    expect(entry.locator(".jp-jhds-SubmissionState")).to_have_text("merged")
    expect(entry).to_have_attribute("data-state", "merged")
