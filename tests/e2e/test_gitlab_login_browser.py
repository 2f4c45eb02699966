"""A real Chromium signs in to a real hub with GitLab (the stand-in): sign-in form, consent, home."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.gitlab import DEFAULT_SEED
from tests.fixtures.hub import free_port
from tests.fixtures.hub_login import gitlab_hub_config, seed_with_hub_callback

pytestmark = pytest.mark.e2e

APP = next(a for a in DEFAULT_SEED["applications"] if a["name"] == "JupyterHub")
PASSWORDS = {u["username"]: u["password"] for u in DEFAULT_SEED["users"]}


@pytest.fixture
def hub_port():
    return free_port()


@pytest.fixture
def gitlab_seed(hub_port):
    return seed_with_hub_callback(DEFAULT_SEED, APP["uid"], hub_port)


@pytest.fixture
def gitlab_hub(hub_factory, gitlab_server, hub_port):
    return hub_factory(
        port=hub_port,
        config=gitlab_hub_config(gitlab_server.url, hub_port, APP, allowed_groups=["data-science/analysts"]),
    )


def test_sign_in_with_gitlab_consent_and_land_on_hub_home(browser_page, gitlab_hub, gitlab_server):
    page = browser_page
    page.goto(gitlab_hub.url)
    expect(page).to_have_url(re.compile(r"/hub/login"))

    page.get_by_role("button", name="Sign in with GitLab").click()
    expect(page).to_have_url(re.compile(re.escape(gitlab_server.url) + r"/users/sign_in"))
    page.get_by_label("Username or primary email").fill("alice")
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(re.escape(gitlab_server.url) + r"/oauth/authorize"))
    expect(page.get_by_role("heading")).to_contain_text("Authorize JupyterHub")
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{gitlab_hub.url}/hub/home")
    expect(page.locator("#login_widget")).to_contain_text("alice")
    # the hub, not just the page, knows the user: its API lists alice with a GitLab token
    user = gitlab_hub.api("GET", "/users/alice").json()
    assert user["auth_state"]["gitlab_user"]["username"] == "alice"
