"""The README's walkthrough, as a newcomer does it in the demo (``./dev.sh demo``), in Chromium.

Alice signs in with GitLab, starts the default profile (the data-science image), creates a
notebook in the project cloned into ~/projects that reads the shared data with pandas and plots
it with matplotlib, runs it and submits it for review; Bob approves and merges the merge request
in the GitLab stand-in's page, opens the promotion service and runs main -> staging now; the run
passes in a clean container of the pinned image and its record (commit, image digest, packages)
shows; Alice sees that run, read-only.

With ``JUPYTERHUB_DS_SCREENSHOTS=docs/screenshots`` the test also saves the README's pictures,
so they always show what the demo really does.
"""

import os
import re
import secrets
import time
from pathlib import Path

import docker
import pytest
from playwright.sync_api import expect

from tests.e2e.review_ui import DIALOG, TOOLBAR_BUTTON
from tests.fixtures.demo_process import start_demo, stop_demo

pytestmark = pytest.mark.e2e

PASSWORDS = {"alice": "demo-alice-pass", "bob": "demo-bob-pass"}
PROJECT = "data-science/notebooks"
CODE = """import pandas as pd
import matplotlib.pyplot as plt

customers = pd.read_csv("/home/jovyan/shared/churn.csv")
customers.plot.scatter(x="tenure_months", y="monthly_charges", c="churned", colormap="coolwarm")
plt.title(f"{len(customers)} customers")
plt.show()"""


def shot(page, name):
    folder = os.environ.get("JUPYTERHUB_DS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    name = f"jdstest-demo-{secrets.token_hex(3)}"  # the demo's own network, containers and volumes
    hub, text, proc = start_demo(work, name)
    gitlab_url = re.search(r"GitLab:\s+(http://\S+?)/? ", text).group(1)
    try:
        yield {"hub": hub, "gitlab": gitlab_url, "work": work, "proc": proc}
    finally:
        stop_demo(proc)
        client = docker.from_env()
        leftover = [c.name for c in client.containers.list(all=True, filters={"name": f"{name}-"})]
        for volume in client.volumes.list(filters={"name": f"{name}-home-"}):
            volume.remove(force=True)
        for network in client.networks.list(names=[name]):
            network.remove()
        assert leftover == [], f"the demo left containers behind: {leftover}"


def promotion_url(hub):
    """With users on their own origins, the hub gives its services theirs too (<name>--service.<host>)."""
    return hub.replace("//localhost:", "//promotion--service.localhost:") + "/services/promotion/"


def sign_in_with_gitlab(page, hub, user):
    """Hub -> Sign in with GitLab -> (GitLab's sign-in form, unless signed in there already) -> Authorize."""
    page.goto(hub)
    page.get_by_role("button", name="Sign in with GitLab").click()
    login, authorize = page.get_by_label("Username or primary email"), page.get_by_role("button", name="Authorize")
    expect(login.or_(authorize)).to_be_visible()
    if login.is_visible():
        login.fill(user)
        page.get_by_label("Password").fill(PASSWORDS[user])
        page.get_by_role("button", name="Sign in").click()
    authorize.click()


@pytest.fixture(scope="module")
def browser_contexts(chromium_browser):
    contexts = {}

    def context(user):
        if user not in contexts:
            contexts[user] = chromium_browser.new_context(viewport={"width": 1280, "height": 860})
            contexts[user].set_default_timeout(30_000)
        return contexts[user]

    yield context
    for c in contexts.values():
        c.close()


def test_the_three_flows_as_a_newcomer_does_them(demo, browser_contexts):
    hub = demo["hub"]
    # --- flow 1: alice signs in with GitLab and starts the default profile --------------------
    alice = browser_contexts("alice").new_page()
    sign_in_with_gitlab(alice, hub, "alice")
    alice.goto(f"{hub}/hub/spawn")
    expect(alice.locator("input[name=profile]")).to_have_count(1)  # small: what her groups allow
    shot(alice, "1-spawn-page")
    alice.get_by_role("button", name="Start").click()
    expect(alice).to_have_url(re.compile(r"^http://alice\.localhost:\d+/user/alice/lab"), timeout=180_000)

    # --- flow 2: a notebook in the cloned project; run it; submit it for review ----------------
    alice.goto(re.sub(r"/lab.*", f"/lab/tree/projects/{PROJECT}?reset", alice.url))
    launcher_notebook = alice.locator(".jp-LauncherCard[data-category='Notebook']").first
    expect(launcher_notebook).to_be_visible(timeout=60_000)
    expect(alice.locator(".jp-DirListing-item", has_text="README.md")).to_be_visible(timeout=60_000)
    launcher_notebook.click()
    expect(alice.locator(TOOLBAR_BUTTON)).to_be_visible(timeout=60_000)
    # the kernel must be ready before a run (a run sent while it starts is not queued)
    expect(alice.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle"))).to_be_visible(timeout=120_000)
    alice.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    alice.keyboard.insert_text(CODE)
    alice.keyboard.press("Shift+Enter")
    expect(alice.locator(".jp-OutputArea-output img").first).to_be_visible(timeout=120_000)
    alice.keyboard.press("Control+s")
    # JupyterLab asks for a name at the first save
    rename = alice.locator(".jp-Dialog", has_text="Rename file")
    rename.get_by_role("textbox").fill("churn-plot.ipynb")
    rename.get_by_role("button", name="Rename and Save").click()
    expect(alice.locator(".lm-TabBar-tab.lm-mod-current", has_text="churn-plot.ipynb")).to_be_visible()
    expect(alice.locator(".jp-DirListing-item", has_text="churn-plot.py")).to_be_visible(timeout=30_000)  # paired
    shot(alice, "2-notebook-with-plot")
    alice.locator(TOOLBAR_BUTTON).click()
    dialog = alice.locator(DIALOG)
    expect(dialog.locator(".jp-jhds-Gates .jp-jhds-Ok")).to_have_text("All checks passed.", timeout=60_000)
    dialog.locator("input.jp-jhds-Title").fill("Churn: customers by tenure and charges")
    shot(alice, "3-checks-passed")
    dialog.locator(".jp-jhds-SubmitButton").click()
    link = dialog.locator(".jp-jhds-Success a.jp-jhds-MRLink")
    expect(link).to_have_text("Churn: customers by tenure and charges", timeout=120_000)
    shot(alice, "4-submitted-for-review")
    mr_url = link.get_attribute("href")
    assert mr_url.startswith(demo["gitlab"]) and "/-/merge_requests/" in mr_url

    # --- bob approves and merges it in GitLab ---------------------------------------------------
    bob = browser_contexts("bob").new_page()
    bob.goto(mr_url)
    bob.get_by_label("Username or primary email").fill("bob")
    bob.get_by_label("Password").fill(PASSWORDS["bob"])
    bob.get_by_role("button", name="Sign in").click()
    expect(bob.locator("body")).to_contain_text("Churn: customers by tenure and charges")
    bob.get_by_role("button", name="Approve").click()
    bob.get_by_role("button", name="Merge").click()
    expect(bob.locator("body")).to_contain_text("merged")
    shot(bob, "5-merged-in-gitlab")

    # --- flow 3: bob runs main -> staging now; the run passes with its record -------------------
    sign_in_with_gitlab(bob, hub, "bob")
    promotion = promotion_url(hub)
    bob.goto(promotion)
    expect(bob.locator("body")).to_contain_text("(admin)")
    row = bob.locator("tr", has_text="main → staging")
    row.get_by_role("button", name="Run now").click()
    expect(bob.locator("[role=status]")).to_contain_text("started")
    deadline = time.monotonic() + 300
    runs = bob.locator("table").nth(1)
    while time.monotonic() < deadline and not runs.locator("td.promoted, td.failed").count():
        time.sleep(3)
        bob.reload()
    expect(runs.locator("td.promoted").first).to_be_visible()
    record = runs.locator("tr", has_text="promoted").first
    record.locator("summary").click()
    details = record.locator("details")
    expect(details).to_contain_text("digest")
    expect(details).to_contain_text("sha256:")
    expect(details).to_contain_text("pandas==")
    shot(bob, "6-promotion-run-and-record")

    # --- alice sees that run, read-only ----------------------------------------------------------
    alice.goto(promotion)
    expect(alice.locator("body")).to_contain_text("(read-only)")
    expect(alice.locator("table").nth(1).locator("td.promoted").first).to_be_visible()
    expect(alice.get_by_role("button", name="Run now")).to_have_count(0)
    shot(alice, "7-history-read-only")
