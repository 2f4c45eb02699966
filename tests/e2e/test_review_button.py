"""The "Submit for review" frontend in a real JupyterLab (Chromium) with the real server extension.

JupyterLab runs from the venv with this checkout's built @jupyterhub-ds/review (see
lab_server.py). Its root holds a notebook outside any git repo and a git working copy under
``projects/`` with a clean notebook and one whose output leaks a GitLab token. What a user
sees: the button on the notebook toolbar, the palette command, the file-browser menu item,
the Reviews panel, and the dialog showing the server's gate results and refusals.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.e2e.lab_server import start_lab
from tests.e2e.review_ui import DIALOG, PANEL_TAB, TOOLBAR_BUTTON, write_notebook

pytestmark = pytest.mark.e2e

REPO = "projects/data-science/demo"
LEAKED = "glpat-" + "Xy3" * 7  # looks like a GitLab personal access token


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("review-lab")
    root = base / "home"
    write_notebook(root / "analysis" / "eda.ipynb", "print('outside any repo')")
    repo = root / REPO
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Test User")
    _git(repo, "config", "user.email", "test@example.invalid")
    (repo / "README.md").write_text("# demo\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "initial")
    write_notebook(repo / "notebooks" / "clean.ipynb", "total = 1 + 1")
    write_notebook(repo / "notebooks" / "leaky.ipynb", "print(token)", outputs=[f"{LEAKED}\n"])
    server = start_lab(base, root)
    try:
        yield server
    finally:
        server.stop()


def _open(page, lab, path):
    page.goto(lab.page_url(f"lab/tree/{path}?reset"))  # reset: no tabs restored from an earlier test
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=45_000)


def _edit_first_cell(page, text):
    """Type into the first cell, so the notebook has unsaved changes (the dialog saves it)."""
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    page.keyboard.press("End")
    page.keyboard.type(text)


def test_button_on_notebook_toolbar_opens_dialog_with_server_refusal(lab, browser_page):
    page = browser_page
    _open(page, lab, "analysis/eda.ipynb")
    button = page.locator(TOOLBAR_BUTTON)
    expect(button).to_have_text("Submit for review")

    with page.expect_response(re.compile(r"/jupyterhub-ds/review/check")) as answer:
        button.click()
    response = answer.value
    assert response.status == 400, response.text()
    message = response.json()["message"]
    assert "not inside a git working copy" in message

    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Path")).to_have_text("analysis/eda.ipynb")
    expect(dialog.locator("input.jp-jhds-Title")).to_have_value("eda")
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Error")).to_have_text(message)
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_disabled()
    dialog.locator("input.jp-jhds-Title").press("Enter")  # typing Enter in a field keeps the dialog
    expect(dialog).to_be_visible()
    page.locator(".jp-Dialog-footer button", has_text="Close").click()
    expect(page.locator(DIALOG)).to_have_count(0)


def test_palette_command_and_file_browser_menu_open_the_dialog(lab, browser_page):
    page = browser_page
    _open(page, lab, "analysis/eda.ipynb")

    palette_input = page.locator(".lm-CommandPalette-input")
    for _ in range(3):  # the shortcut is lost if it comes while the app still moves focus around
        if palette_input.is_visible():
            break  # a slow machine: an earlier press did open it
        page.locator(".jp-Notebook").click()  # focus inside the app, so its shortcut reaches it
        page.keyboard.press("Control+Shift+C")
        try:
            palette_input.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeoutError:
            continue
    expect(palette_input).to_be_visible()
    palette_input.fill("Submit for review")
    item = page.locator(".lm-CommandPalette-item", has_text="Submit for review")
    expect(item).to_have_count(1)
    expect(page.locator(".lm-CommandPalette-header", has_text=re.compile(r"^Review$"))).to_have_count(1)
    item.click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Path")).to_have_text("analysis/eda.ipynb")
    expect(dialog.locator(".jp-jhds-Error")).to_contain_text("not inside a git working copy")
    page.keyboard.press("Escape")
    expect(page.locator(DIALOG)).to_have_count(0)

    listing_item = page.locator(".jp-DirListing-item", has_text="eda.ipynb")
    listing_item.click(button="right")
    menu_item = page.locator(".lm-Menu-item", has_text="Submit for review")
    expect(menu_item).to_be_visible()
    menu_item.click()
    expect(page.locator(DIALOG).locator(".jp-jhds-Path")).to_have_text("analysis/eda.ipynb")


def test_reviews_panel_shows_no_submissions_yet(lab, browser_page):
    page = browser_page
    _open(page, lab, "analysis/eda.ipynb")
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/status")) as answer:
        page.locator(PANEL_TAB).click()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json() == {"submissions": []}
    panel = page.locator("#jupyterhub-ds-review-status")
    expect(panel.locator(".jp-jhds-Empty")).to_contain_text("No submissions yet")
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/status")):
        panel.locator(".jp-jhds-RefreshButton").click()
    expect(panel.locator(".jp-jhds-Empty")).to_be_visible()


def test_dialog_lists_the_leaked_token_gate_and_blocks_submit(lab, browser_page):
    page = browser_page
    _open(page, lab, f"{REPO}/notebooks/leaky.ipynb")
    _edit_first_cell(page, "  # edited")
    page.locator(TOOLBAR_BUTTON).click()

    dialog = page.locator(DIALOG)
    secrets_gate = dialog.locator('.jp-jhds-Gate[data-gate="secrets"]')
    expect(secrets_gate).to_have_attribute("data-state", "failed", timeout=30_000)
    expect(secrets_gate.locator(".jp-jhds-GateMessages")).to_contain_text("leaky.ipynb")
    expect(secrets_gate.locator(".jp-jhds-GateMessages")).to_contain_text("glpat-")
    expect(dialog.locator(".jp-jhds-Gates > .jp-jhds-Error")).to_contain_text("Some checks failed")
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_disabled()
    # the dialog saved the edit first, so the paired script exists and is in sync
    expect(dialog.locator('.jp-jhds-Gate[data-gate="paired"]')).to_have_attribute("data-state", "ok")
    assert (lab.root_dir / REPO / "notebooks" / "leaky.py").read_text().count("# edited") == 1


def test_dialog_shows_all_gates_passing_for_a_clean_editedwrite_notebook(lab, browser_page):
    page = browser_page
    _open(page, lab, f"{REPO}/notebooks/clean.ipynb")
    _edit_first_cell(page, "  # edited")
    page.locator(TOOLBAR_BUTTON).click()

    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=30_000)
    gates = dialog.locator(".jp-jhds-Gate")
    names = gates.evaluate_all("nodes => nodes.map(n => [n.dataset.gate, n.dataset.state])")
    assert {name for name, _ in names} >= {"paired", "no_outputs", "secrets", "size", "syntax"}, names
    assert all(state == "ok" for _, state in names), names
    expect(dialog.locator("input.jp-jhds-Title")).to_have_value("clean")
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_enabled()
    dialog.locator("input.jp-jhds-Title").fill("")
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_disabled()
