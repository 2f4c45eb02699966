"""The same frontend in Notebook 7 (``jupyter notebook``): the toolbar button on the notebook page
opens the dialog with the real server's gate results, and the tree page's file browser menu
offers "Submit for review" for .ipynb files."""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from playwright.sync_api import expect

from tests.e2e.lab_server import start_lab
from tests.e2e.review_ui import DIALOG, TOOLBAR_BUTTON

pytestmark = pytest.mark.e2e

REPO = "projects/data-science/demo"


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    base = tmp_path_factory.mktemp("review-notebook7")
    repo = base / "home" / REPO
    (repo / "notebooks").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Test User")
    _git(repo, "config", "user.email", "test@example.invalid")
    (repo / "README.md").write_text("# demo\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "initial")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("total = 1 + 1"))
    nbformat.write(nb, repo / "notebooks" / "model.ipynb")
    server = start_lab(base, base / "home", app="notebook")
    try:
        yield server
    finally:
        server.stop()


def test_notebook7_page_has_the_button_and_the_dialog_shows_gate_results(notebook7, browser_page):
    page = browser_page
    page.goto(notebook7.page_url(f"notebooks/{REPO}/notebooks/model.ipynb"))
    button = page.locator(TOOLBAR_BUTTON)
    expect(button).to_be_visible(timeout=45_000)
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited")
    button.click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Path")).to_have_text(f"{REPO}/notebooks/model.ipynb")
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=30_000)
    expect(dialog.locator('.jp-jhds-Gate[data-gate="paired"]')).to_have_attribute("data-state", "ok")
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_enabled()


def test_notebook7_tree_page_offers_submit_for_review_on_notebooks(notebook7, browser_page):
    page = browser_page
    page.goto(notebook7.page_url(f"tree/{REPO}/notebooks"))
    item = page.locator(".jp-DirListing-item", has_text="model.ipynb")
    expect(item).to_be_visible(timeout=45_000)
    item.click(button="right")
    menu_item = page.locator(".lm-Menu-item", has_text="Submit for review")
    expect(menu_item).to_be_visible()
    menu_item.click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Path")).to_have_text(f"{REPO}/notebooks/model.ipynb")
    expect(dialog.locator(".jp-jhds-Gate").first).to_be_visible(timeout=30_000)
