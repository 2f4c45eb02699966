"""The review run as a user sees it, on the real stack: the hub configured from an admin YAML with
a promotion project (so the hub starts the promotion service), alice's server in the single-user
image, the GitLab stand-in. She submits a notebook that plots from JupyterLab; the Reviews panel
shows the clean run of her merge request's head commit (the commit status the service posts,
read with her own token) and its link opens the run's page, and from there the executed notebook
with the plot.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from jupyterhub_ds._version import __version__
from jupyterhub_ds.image_inputs import SINGLEUSER_REPO
from tests.e2e.review_ui import DIALOG, PANEL_TAB, TOOLBAR_BUTTON
from tests.e2e.test_review_in_sandbox import notebook_json, put_file, wait_for
from tests.fixtures.hub import free_port
from tests.fixtures.sandbox import browser_sign_in as sign_in

pytestmark = pytest.mark.e2e

PROJECT = "data-science/notebooks"
CLONE = f"/home/jovyan/projects/{PROJECT}"
ADMIN_PAT = "glpat-sandbox-admin-token-0001"  # the sandbox seed's GitLab admin: the service's token
PLOT = r"""import struct, zlib
from IPython.display import Image, display

def png(width, height, colour):
    raw = b"".join(b"\x00" + bytes(colour) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

display(Image(data=png(30, 12, (40, 90, 200))))"""


@pytest.fixture(scope="module")
def sandbox_hub_env():
    return {"JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": ADMIN_PAT}


@pytest.fixture(scope="module")
def sandbox_yaml_changes(tmp_path_factory):
    database = tmp_path_factory.mktemp("promotion") / "promotion.sqlite"
    port = free_port()

    def change(config):
        config["promotion"] = {
            "database_url": f"sqlite:///{database}",
            "port": port,
            "projects": [
                {
                    "path": PROJECT,
                    "image": f"{SINGLEUSER_REPO}:{__version__}",
                    "profile": "small",
                    "notebooks": ["eda.py"],
                    "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
                }
            ],
        }
        return config

    return change


@pytest.fixture(scope="module")
def sandbox_config_d():
    # the admin's escape hatch: look for updated merge requests every 2 s instead of 15
    return {
        "50-review-runs.py": (
            "for service in c.JupyterHub.services:\n"
            "    if service['name'] == 'promotion':\n"
            "        service['command'] = [*service['command'], '--ReviewRuns.poll_interval=2']\n"
        )
    }


def test_the_reviews_panel_shows_the_clean_run_and_opens_the_executed_notebook(browser_page, sandbox):
    page = browser_page
    sign_in(page, sandbox, "alice")
    sandbox.start_server("alice")
    wait_for(lambda: sandbox.exec("alice", f"test -f {CLONE}/eda.py")[0] == 0, 60, "the workspace clone")
    put_file(sandbox, "alice", f"{CLONE}/plot.ipynb", notebook_json(PLOT))

    page.goto(f"{sandbox.hub.url}/user/alice/lab/tree/projects/{PROJECT}/plot.ipynb?reset")
    expect(page.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=60_000)
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# blue bars")
    page.locator(TOOLBAR_BUTTON).click()
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=60_000)
    dialog.locator("input.jp-jhds-Title").fill("Churned share as a bar")
    with page.expect_response(re.compile(r"/jupyterhub-ds/review/submit"), timeout=120_000) as answer:
        dialog.locator(".jp-jhds-SubmitButton").click()
    assert answer.value.status == 200, answer.value.text()
    commit = answer.value.json()["commit"]
    page.locator(".jp-Dialog-footer button", has_text="Close").click()

    # the panel shows the run of the submitted commit as it goes; a refresh asks again
    page.locator(PANEL_TAB).click()
    panel = page.locator("#jupyterhub-ds-review-status")
    entry = panel.locator(".jp-jhds-Submission", has_text="plot.ipynb")
    run = entry.locator(".jp-jhds-SubmissionRun")
    expect(entry).to_be_visible(timeout=30_000)
    statuses = sandbox.gitlab.client(ADMIN_PAT).projects.get(PROJECT, lazy=True).commits.get(commit, lazy=True).statuses
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (
        not run.count() or run.get_attribute("data-run-state") not in ("success", "failed")
    ):
        time.sleep(2)
        with page.expect_response(re.compile(r"/jupyterhub-ds/review/status")) as answer:
            panel.locator(".jp-jhds-RefreshButton").click()
        finished = [s for s in statuses.list(name="jupyterhub-ds/run") if s.status in ("success", "failed")]
        assert not finished or "run" in answer.value.json()["submissions"][0], (
            "GitLab has the run but review/status does not say so: the single-user image predates review runs; "
            "rebuild it (jupyterhub-ds images build)"
        )
    expect(run).to_have_attribute("data-run-state", "success")
    expect(run.locator(".jp-jhds-RunState")).to_have_text("Clean run: passed")
    link = run.locator("a.jp-jhds-RunLink")
    expect(link).to_have_text("executed notebooks")
    assert link.get_attribute("href").startswith(f"{sandbox.hub.url}/services/promotion/review-runs/")

    # the link opens the run's page (the hub signs her in to the service); it opens the notebook
    with page.context.expect_page() as new_tab:
        link.click()
    run_page = new_tab.value
    expect(run_page.locator("p.status")).to_have_attribute("data-status", "passed", timeout=60_000)
    expect(run_page.locator("body")).to_contain_text(commit)
    run_page.locator("a.executed-notebook", has_text="executed notebook").click()
    expect(run_page.locator('img[src^="data:image/png;base64,"]')).to_be_visible(timeout=30_000)
    expect(run_page.locator("body")).to_contain_text("blue bars")
    run_page.close()
