"""A data scientist in Chromium: sign in with GitLab, pick a profile, watch progress, get JupyterLab."""

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.sandbox import browser_sign_in as sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_pick_allowed_profile_see_progress_and_land_in_jupyterlab(browser_page, sandbox):
    page = browser_page
    sign_in(page, sandbox, "alice")
    expect(page).to_have_url(re.compile(r"/hub/(home|spawn)"))
    page.goto(f"{sandbox.hub.url}/hub/spawn")

    # exactly the profiles of alice's GitLab groups (data-science/analysts: small and tiny)
    profiles = page.locator(".jds-profile")
    expect(profiles).to_have_count(2)
    expect(profiles.nth(0)).to_contain_text("Small (1 CPU, 1 GB)")
    expect(profiles.nth(0)).to_contain_text("1 CPU · 1 GB RAM")
    expect(profiles.nth(1)).to_contain_text("Tiny (1 CPU, 256 MB)")
    expect(page.locator("input[name=profile][value=small]")).to_be_checked()

    page.get_by_role("button", name="Start").click()
    # the spawn-pending page logs our progress events as they arrive
    page.locator("#progress-details summary").click()
    log = page.locator("#progress-log")
    expect(log).to_contain_text("Creating container", timeout=60_000)
    expect(log).to_contain_text("Starting container", timeout=60_000)

    expect(page).to_have_url(re.compile(r"/user/alice/lab"), timeout=120_000)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=120_000)
    expect(page).to_have_title(re.compile("JupyterLab"))


def test_form_error_is_shown_in_the_form(browser_page, sandbox):
    """A profile removed from the page (tampering, or groups changed meanwhile) is refused
    and the form comes back with the reason."""
    page = browser_page
    sign_in(page, sandbox, "hank")
    page.goto(f"{sandbox.hub.url}/hub/spawn")
    page.locator("input[name=profile][value=small]").evaluate("el => el.value = 'large'")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("body")).to_contain_text("Profile 'large' is not available to you")
    expect(page.locator(".jds-profile")).to_have_count(2)
    assert sandbox.containers("hank") == []
