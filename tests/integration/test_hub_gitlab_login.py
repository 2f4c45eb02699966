"""Logging in to a real hub with oauthenticator's GitLabOAuthenticator against the GitLab stand-in.

Real parts only: a ``jupyterhub`` process with configurable-http-proxy, the real
``oauthenticator.gitlab.GitLabOAuthenticator`` inside it, the stand-in as a separate process, and
a ``requests`` session walking the same pages a browser does (sign-in form, consent page).
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.fixtures.gitlab import DEFAULT_SEED
from tests.fixtures.hub import free_port, loopback_session
from tests.fixtures.hub_login import gitlab_hub_config, login_via_gitlab, new_session, page_text, seed_with_hub_callback
from tests.fixtures.postgres import hub_db_settings

pytestmark = pytest.mark.integration

APP = next(a for a in DEFAULT_SEED["applications"] if a["name"] == "JupyterHub")
ALLOWED_GROUP = "data-science/analysts"  # nested: only members (direct or inherited) may log in
SCOPES = ["read_user", "api", "read_repository", "write_repository"]
PASSWORDS = {u["username"]: u["password"] for u in DEFAULT_SEED["users"]}
HTTP = loopback_session()  # for direct calls to the stand-in


@pytest.fixture
def hub_port():
    """The hub's public port, chosen first so the seed's OAuth app can name its callback URL."""
    return free_port()


@pytest.fixture
def gitlab_seed(hub_port):
    return seed_with_hub_callback(DEFAULT_SEED, APP["uid"], hub_port)


def hub_config(gitlab_server, hub_port: int, refresh_age: int = 300) -> dict:
    return gitlab_hub_config(
        gitlab_server.url, hub_port, APP, allowed_groups=[ALLOWED_GROUP], scopes=SCOPES, refresh_age=refresh_age
    )


@pytest.fixture
def gitlab_hub(request, hub_factory, gitlab_server, hub_port, database_backend):
    # every test here runs on SQLite and on PostgreSQL (users, auth_state, a crash and restart)
    db_text, db_env = hub_db_settings(database_backend)
    hub = hub_factory(port=hub_port, config=hub_config(gitlab_server, hub_port), config_text=db_text, env=db_env)
    if database_backend is not None:  # the hub's tables are in PostgreSQL, not in a SQLite file
        tables = request.getfixturevalue("postgres_server").psql(
            "select tablename from pg_tables where schemaname = 'public'", database=database_backend.name
        )
        assert "users" in tables.split() and not (hub.workdir / "jupyterhub.sqlite").exists()
    return hub


def hub_user(hub, name: str) -> requests.Response:
    return hub.api("GET", f"/users/{name}")


def gitlab_user(gitlab_server, token: str) -> requests.Response:
    return HTTP.get(f"{gitlab_server.url}/api/v4/user", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_logged_in(hub, session: requests.Session, resp: requests.Response, username: str) -> None:
    """``resp`` is the hub home page and ``session``'s cookie identifies ``username`` to the hub API."""
    assert resp.status_code == 200, page_text(resp)
    assert urlsplit(resp.url).path == "/hub/home", page_text(resp)
    me = session.get(f"{hub.url}/hub/api/user", timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == username


@pytest.mark.parametrize("username", ["alice", "bob"], ids=["direct-member", "member-of-parent-group"])
def test_member_of_allowed_nested_group_logs_in_with_tokens_in_auth_state(gitlab_hub, gitlab_server, username):
    result = login_via_gitlab(gitlab_hub.url, username, PASSWORDS[username])

    assert result.saw_consent, "the JupyterHub app is not trusted: GitLab must ask for consent"
    assert_logged_in(gitlab_hub, result.session, result.response, username)
    model = hub_user(gitlab_hub, username).json()
    state = model["auth_state"]
    assert state["gitlab_user"]["username"] == username
    assert state["access_token"] and state["refresh_token"]
    assert sorted(state["scope"]) == sorted(SCOPES)
    # the stored token is a real GitLab token for this user
    assert gitlab_user(gitlab_server, state["access_token"]).json()["username"] == username


def test_user_outside_allowed_groups_is_refused(gitlab_hub):
    result = login_via_gitlab(gitlab_hub.url, "carol", PASSWORDS["carol"])

    assert result.status == 403, page_text(result.response)
    assert "not currently authorized" in result.response.text
    assert hub_user(gitlab_hub, "carol").status_code == 404
    assert result.session.get(f"{gitlab_hub.url}/hub/api/user", timeout=10).status_code == 403


def test_deny_on_consent_page_shows_error_and_creates_no_user(gitlab_hub):
    result = login_via_gitlab(gitlab_hub.url, "alice", PASSWORDS["alice"], approve=False)

    assert result.status == 400, page_text(result.response)
    assert urlsplit(result.response.url).path == "/hub/oauth_callback"
    assert "OAuth error" in result.response.text and "denied the request" in result.response.text
    assert hub_user(gitlab_hub, "alice").status_code == 404
    home = result.session.get(f"{gitlab_hub.url}/hub/home", timeout=10)
    assert urlsplit(home.url).path == "/hub/login", "a denied user must not be logged in"


def test_member_removed_from_group_in_gitlab_is_refused_at_next_login(gitlab_hub, gitlab_server):
    first = login_via_gitlab(gitlab_hub.url, "alice", PASSWORDS["alice"])
    assert_logged_in(gitlab_hub, first.session, first.response, "alice")

    removed = HTTP.delete(
        f"{gitlab_server.url}/api/v4/groups/{quote(ALLOWED_GROUP, safe='')}/members/{gitlab_server.user_id('alice')}",
        headers={"PRIVATE-TOKEN": gitlab_server.admin_token},
        timeout=10,
    )
    assert removed.status_code == 204, removed.text

    again = login_via_gitlab(gitlab_hub.url, "alice", PASSWORDS["alice"], session=new_session())
    assert again.status == 403, page_text(again.response)


class TestRefresh:
    """``refresh_user`` renews an expired GitLab token with the refresh_token grant."""

    TOKEN_LIFETIME = 4

    @pytest.fixture
    def gitlab_token_expires_in(self):
        return self.TOKEN_LIFETIME

    @pytest.fixture
    def gitlab_hub(self, hub_factory, gitlab_server, hub_port):
        return hub_factory(port=hub_port, config=hub_config(gitlab_server, hub_port, refresh_age=1))

    def test_expired_token_is_renewed_on_next_request(self, gitlab_hub, gitlab_server):
        result = login_via_gitlab(gitlab_hub.url, "alice", PASSWORDS["alice"])
        assert_logged_in(gitlab_hub, result.session, result.response, "alice")
        old = hub_user(gitlab_hub, "alice").json()["auth_state"]
        old_token = old["access_token"]
        expires_at = old["token_response"]["created_at"] + old["token_response"]["expires_in"]
        assert old["token_response"]["expires_in"] == self.TOKEN_LIFETIME

        time.sleep(max(0.0, expires_at - time.time()) + 1.0)
        expired = gitlab_user(gitlab_server, old_token)
        assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"

        # any cookie-authenticated hub request after auth_refresh_age triggers refresh_user
        home = result.session.get(f"{gitlab_hub.url}/hub/home", timeout=10)
        assert home.status_code == 200 and urlsplit(home.url).path == "/hub/home", page_text(home)

        new = hub_user(gitlab_hub, "alice").json()["auth_state"]
        assert new["access_token"] != old_token
        assert new["refresh_token"] != old["refresh_token"]
        assert gitlab_user(gitlab_server, new["access_token"]).json()["username"] == "alice"
        stale = gitlab_user(gitlab_server, old_token)
        assert stale.status_code == 401 and stale.json()["error"] == "invalid_token"
        # refresh revoked the old refresh token too: it cannot be used again
        reuse = HTTP.post(
            f"{gitlab_server.url}/oauth/token",
            timeout=10,
            data={
                "grant_type": "refresh_token",
                "refresh_token": old["refresh_token"],
                "client_id": APP["uid"],
                "client_secret": APP["secret"],
            },
        )
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        assert "Refreshing oauth access token for alice" in gitlab_hub.log_text()


def test_login_and_auth_state_survive_a_hub_crash_and_restart(gitlab_hub):
    result = login_via_gitlab(gitlab_hub.url, "alice", PASSWORDS["alice"])
    assert_logged_in(gitlab_hub, result.session, result.response, "alice")
    before = hub_user(gitlab_hub, "alice").json()["auth_state"]
    old_proxies = gitlab_hub.proxy_pids
    assert len(old_proxies) == 1

    gitlab_hub.process.kill()  # a crash: no cleanup by the hub
    gitlab_hub.process.wait(timeout=10)
    assert gitlab_hub.proxy_pids == old_proxies, "the proxy runs in its own session and outlives the hub"

    gitlab_hub.start()  # same db, cookie secret and JUPYTERHUB_CRYPT_KEY
    assert gitlab_hub.proxy_pids and not gitlab_hub.proxy_pids & old_proxies, "the old proxy was replaced"
    home = result.session.get(f"{gitlab_hub.url}/hub/home", timeout=10)
    assert_logged_in(gitlab_hub, result.session, home, "alice")
    assert hub_user(gitlab_hub, "alice").json()["auth_state"]["access_token"] == before["access_token"]

    # the harness cleans up after a crashed hub too: no proxy survives stop()
    gitlab_hub.process.kill()
    gitlab_hub.process.wait(timeout=10)
    survivors = gitlab_hub.proxy_pids
    gitlab_hub.stop()
    assert survivors and not gitlab_hub.proxy_pids
