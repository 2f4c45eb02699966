"""Hole: one origin for every user's server. A page a user serves from their own server ran on
the hub's origin and could script another user's JupyterLab and mint their hub token.

Control: ``hub.subdomain_host``: every server on its own origin (``<user>.<host>``); the
browser's same-origin policy then keeps a page of alice's server away from bob's server and
from the hub's pages. Attack, with the real hub, containers and Chromium: alice serves a page
(a server extension she loads from her own home) that frames bob's JupyterLab and acts in it
(his ``_xsrf`` cookie, a fetch of ``/user/bob/api/contents``) and frames the hub's ``/hub/token``
page and reads it; bob, signed in, opens it. On one shared origin (``subdomain_host: null``)
both succeed.
"""

import json

import pytest
from playwright.sync_api import expect

from jupyterhub_ds.config.loader import check_file, unsafe_lines
from tests.fixtures.sandbox import browser_sign_in
from tests.security.evil_page import plant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox_subdomains():
    return True


def test_a_page_served_by_alice_cannot_read_bobs_files_or_token_page_with_bobs_cookies(browser_page, sandbox):
    page = browser_page
    # bob signs in and uses his server (so the browser holds his hub and server cookies)
    browser_sign_in(page, sandbox, "bob")
    sandbox.start_server("bob", {"profile": "large"})
    sandbox.put_file("bob", "/home/jovyan/bobs-secret-notes.txt", "the quarterly numbers")
    page.goto(sandbox.server_url("bob") + "lab")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=60_000)
    page.goto(sandbox.server_url("bob") + "api/contents")
    expect(page.locator("body")).to_contain_text("bobs-secret-notes.txt", timeout=60_000)

    # alice plants a page in her own server and restarts it
    sandbox.login("alice")
    sandbox.start_server("alice", {"profile": "small"})
    plant(sandbox, "alice")
    sandbox.stop_server("alice")
    sandbox.start_server("alice", {"profile": "small"})

    # bob follows alice's link
    page.goto(sandbox.server_url("alice") + f"evil?victim=bob&hub={sandbox.public_url}")
    expect(page).to_have_title("done", timeout=30_000)
    found = json.loads(page.locator("#out").inner_text())
    # on one shared origin both are READ: bob's file list, and the hub page that mints his tokens
    assert found["contents"].startswith("BLOCKED") and "bobs-secret-notes" not in found["contents"], found
    assert found["token_page"].startswith("BLOCKED"), found


def test_check_config_names_an_https_hub_without_subdomains(tmp_path):
    admin = tmp_path / "admin.yaml"
    admin.write_text(
        "hub: {public_url: 'https://hub.example.com/'}\n"
        "gitlab: {url: 'https://gitlab.example.com', client_id: app}\n"
        "auth: {allowed_groups: [ds]}\nprofiles: [{slug: s}]\n"
    )
    lines, config = check_file(admin)
    assert lines == []
    [named] = [line for line in unsafe_lines(admin, config) if "hub.public_url" in line]
    assert "unsafe: no hub.subdomain_host" in named and "mint their hub token" in named
    admin.write_text(
        admin.read_text().replace(
            "public_url: 'https://hub.example.com/'",
            "public_url: 'https://hub.example.com/', subdomain_host: 'https://hub.example.com'",
        )
    )
    lines, config = check_file(admin)
    assert lines == [] and not [line for line in unsafe_lines(admin, config) if "subdomain" in line]
