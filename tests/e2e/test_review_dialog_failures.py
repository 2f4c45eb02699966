"""What the dialog shows when a submit cannot finish: every refusal comes from the real server
extension in a real JupyterLab, and the dialog shows the server's message word for word.

GitLab here is a "black hole" on loopback: a socket that accepts connections and never
answers, so git push hangs until the extension's ``git_timeout``. That keeps a submit
running long enough to see the spinner and to click Submit from a second tab (409), and then
ends it with a GitLab failure (502). A notebook changed on disk between the check and the
submit is refused by the gates at submit time (422), with nothing pushed.
"""

from __future__ import annotations

import re
import socket
import subprocess

import jupytext
import pytest
from playwright.sync_api import expect

from tests.e2e.lab_server import start_lab
from tests.e2e.review_ui import DIALOG, TOOLBAR_BUTTON, write_notebook

pytestmark = pytest.mark.e2e

PROJECT = "data-science/notebooks"
GIT_TIMEOUT = 20.0
LEAKED = "glpat-" + "Qz7" * 7


def _git(cwd, *args):
    subprocess.run(["git", "-c", "credential.helper=", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def black_hole():
    """A loopback port that accepts TCP connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, black_hole):
    base = tmp_path_factory.mktemp("review-failures-lab")
    repo = base / "home" / "projects" / PROJECT
    (repo / "analysis").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Alice Analyst")
    _git(repo, "config", "user.email", "alice@example.com")
    (repo / "README.md").write_text("# notebooks\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "initial")
    _git(repo, "remote", "add", "origin", f"{black_hole}/{PROJECT}.git")
    write_notebook(repo / "analysis" / "slow.ipynb", "rate = 0.1")
    write_notebook(repo / "analysis" / "changed.ipynb", "rate = 0.3")
    config = "\n".join(
        [
            "c.ReviewConfig.token_source = lambda: 'glpat-not-a-real-token-000000'",
            "c.ReviewConfig.identity_source = lambda: {'username': 'alice', 'name': 'Alice Analyst',"
            " 'email': 'alice@example.com'}",
            "c.ReviewConfig.username = 'alice'",
            f"c.ReviewConfig.gitlab_url = {black_hole!r}",
            "c.ReviewConfig.git_credential_helper = '!f() { echo username=oauth2; echo password=x; }; f'",
            f"c.ReviewConfig.git_timeout = {GIT_TIMEOUT}",
            "c.ReviewConfig.gitlab_timeout = 3.0",
            "c.ReviewConfig.clone_on_start = False",
            f"c.ReviewConfig.state_dir = {str(base / 'state')!r}",
        ]
    )
    server = start_lab(base, base / "home", config_py=config)
    try:
        yield server, repo
    finally:
        server.stop()


def _open_checked(page, lab, path):
    """Open the notebook, edit it, open the dialog and wait until every gate passed."""
    page.goto(lab.page_url(f"lab/tree/{path}?reset"))
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=45_000)
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited")
    page.locator(TOOLBAR_BUTTON).click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=30_000)
    return dialog


def test_spinner_while_running_then_409_from_a_second_tab_and_502_when_gitlab_hangs(lab, browser_page):
    server, repo = lab
    page = browser_page
    path = f"projects/{PROJECT}/analysis/slow.ipynb"
    dialog = _open_checked(page, server, path)
    submit = dialog.locator(".jp-jhds-SubmitButton")

    with page.expect_response(
        re.compile(r"/jupyterhub-ds/review/submit"), timeout=GIT_TIMEOUT * 1000 + 30_000
    ) as first:
        submit.click()
        # while git push hangs: the button is disabled and the spinner turns
        expect(submit).to_be_disabled()
        expect(dialog.locator(".jp-jhds-Spinner")).to_be_visible()
        expect(dialog.locator(".jp-jhds-Result .jp-jhds-Pending")).to_be_visible()

        # the same notebook submitted from a second tab meanwhile: the server says 409
        other = page.context.new_page()
        other_dialog = _open_checked(other, server, path)
        with other.expect_response(re.compile(r"/jupyterhub-ds/review/submit")) as second:
            other_dialog.locator(".jp-jhds-SubmitButton").click()
        assert second.value.status == 409, second.value.text()
        message_409 = second.value.json()["message"]
        assert "already" in message_409
        expect(other_dialog.locator(".jp-jhds-Result .jp-jhds-Error")).to_have_text(message_409)
        expect(other_dialog.locator(".jp-jhds-SubmitButton")).to_be_enabled()  # retry allowed
        other.close()

    assert first.value.status == 502, first.value.text()
    message_502 = first.value.json()["message"]
    expect(dialog.locator(".jp-jhds-Result .jp-jhds-Error")).to_have_text(message_502)
    expect(dialog.locator(".jp-jhds-Spinner")).to_be_hidden()
    expect(submit).to_be_enabled()  # the local work is kept: the user may retry
    assert (repo / "analysis" / "slow.ipynb").exists()


def _open_checked_from_file_browser(page, lab, folder, name):
    """Open the dialog from the file browser's context menu (no notebook panel open, so the
    dialog has nothing to save first) and wait until every gate passed."""
    page.goto(lab.page_url(f"lab/tree/{folder}?reset"))
    item = page.locator(".jp-DirListing-item", has_text=name).first
    expect(item).to_be_visible(timeout=45_000)
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Submit for review").click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=30_000)
    return dialog


def test_notebook_changed_on_disk_after_the_check_is_refused_with_the_gate_list(lab, browser_page):
    server, repo = lab
    page = browser_page
    notebook = repo / "analysis" / "changed.ipynb"
    # paired on disk, as a save in JupyterLab would leave it
    jupytext.write(jupytext.read(notebook), notebook.with_suffix(".py"), fmt="py:percent")
    dialog = _open_checked_from_file_browser(page, server, f"projects/{PROJECT}/analysis", "changed.ipynb")
    # the file gains an output with a token behind the dialog's back (e.g. from another tab)
    write_notebook(repo / "analysis" / "changed.ipynb", "rate = 0.3  # edited", outputs=[LEAKED + "\n"])

    with page.expect_response(re.compile(r"/jupyterhub-ds/review/submit")) as answer:
        dialog.locator(".jp-jhds-SubmitButton").click()
    assert answer.value.status == 422, answer.value.text()
    body = answer.value.json()
    expect(dialog.locator(".jp-jhds-Result .jp-jhds-Error")).to_have_text(body["message"])
    secrets_gate = dialog.locator('.jp-jhds-Gate[data-gate="secrets"]')
    expect(secrets_gate).to_have_attribute("data-state", "failed")
    expect(secrets_gate.locator(".jp-jhds-GateMessages")).to_contain_text("changed.ipynb")
    expect(dialog.locator(".jp-jhds-SubmitButton")).to_be_disabled()  # check again after fixing
    expect(dialog.locator(".jp-jhds-CheckButton")).to_be_enabled()

    def git_out(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout

    assert "changed" not in git_out("branch", "--list", "review/*")  # no review branch for it
    assert git_out("rev-list", "--count", "main").strip() == "1"  # and main untouched
