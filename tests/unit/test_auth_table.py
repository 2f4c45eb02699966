"""DSGitLabOAuthenticator in process, as oauthenticator's own tests/test_gitlab.py drives
GitLabOAuthenticator: the admin YAML -> traitlets config -> the authenticator, with tornado's
AsyncHTTPClient replaced by oauthenticator's MockAsyncHTTPClient playing GitLab (OAuth token
endpoint, ``/user``, ``/groups?min_access_level=``, ``/groups/:id/members/:user_id``).

Complements, never replaces, the real logins against the GitLab stand-in
(tests/integration/test_hub_gitlab_login.py and the browser login).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import re
import textwrap
import time
from urllib.parse import parse_qs, urlparse

import pytest
from oauthenticator.tests.mocks import MockAsyncHTTPClient, setup_oauth_mock
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from jupyterhub_ds.auth import DSGitLabOAuthenticator
from jupyterhub_ds.config import load_config
from jupyterhub_ds.gitlab_groups import ACCESS_LEVELS

pytestmark = pytest.mark.unit

GITLAB = "gitlab.example.com"
API = "/api/v4"
ENV = {"GITLAB_CLIENT_SECRET": "not-a-real-secret", "JUPYTERHUB_CRYPT_KEY": "00" * 32}
# group path -> id, on the GitLab of these tests
GROUP_IDS = {
    "data-science": 1,
    "data-science/admins": 2,
    "data-science/power-users": 3,
    "data-science/analysts": 4,
    "ml-gpu": 5,
}

PROFILES = """
profiles:
  - slug: small
    default: true
  - slug: large
    allowed_groups: [data-science/power-users]
"""


def admin_yaml(auth, tmp_path):
    path = tmp_path / "jupyterhub_ds.yaml"
    path.write_text(
        f"gitlab:\n  url: https://{GITLAB}\n  client_id: 0123456789abcdef\n"
        f"auth:\n{textwrap.indent(auth, '  ')}\n{PROFILES}"
    )
    return load_config(path, ENV)


def listed_groups(placed):
    """What ``GET /groups?min_access_level=N`` lists for someone placed as ``placed`` ({group: role}):
    every group they are placed in with at least role N, and every descendant of those (GitLab's
    GroupsFinder), by level."""
    by_level = {}
    for level in ACCESS_LEVELS.values():
        direct = [g for g, role in placed.items() if ACCESS_LEVELS[role] >= level]
        by_level[level] = sorted({g for g in GROUP_IDS for d in direct if g == d or g.startswith(d + "/")})
    return by_level


class GitLab:
    """The GitLab API of one user: their groups, by where they are placed and with which role."""

    def __init__(self, client, placed, *, user_id=42, username="alice"):
        self.placed, self.by_level = placed, listed_groups(placed)
        self.user = {"id": user_id, "username": username, "name": username.title(), "email": f"{username}@example.com"}
        self.token_endpoint = None  # None: the mock's own; else an HTTP status (with an OAuth error body)
        setup_oauth_mock(
            client, host=GITLAB, access_token_path="/oauth/token", user_path=f"{API}/user", enable_refresh_tokens=True
        )
        client.hosts[GITLAB] += [
            (f"{API}/groups", self.groups),
            (re.compile(rf"{API}/groups/(\d+)/members/(\d+)$"), self.member),
        ]
        token_handler = client.hosts[GITLAB][0]
        client.hosts[GITLAB][0] = (token_handler[0], self.tokens(token_handler[1]))
        self.client = client

    def tokens(self, real):
        def answer(request):
            if self.token_endpoint is None:
                model = real(request)
                if isinstance(model, dict):
                    model["expires_in"] = 7200
                return model
            body = json.dumps({"error": "invalid_grant"} if self.token_endpoint == 400 else {}).encode()
            return HTTPResponse(request, self.token_endpoint, buffer=io.BytesIO(body))

        return answer

    def groups(self, request):
        level = int(parse_qs(urlparse(request.url).query)["min_access_level"][0])
        return [{"full_path": g, "id": GROUP_IDS[g]} for g in self.by_level[level]]

    def member(self, request):
        group_id = int(urlparse(request.url).path.split("/")[-3])
        group = next(g for g, i in GROUP_IDS.items() if i == group_id)
        return 200 if group in self.placed else 404

    def login(self):
        return self.client.handler_for_user(self.user)


@pytest.fixture
async def client():
    # async: AsyncHTTPClient() is one instance per event loop, the test's
    before = AsyncHTTPClient.configured_class()
    AsyncHTTPClient.configure(MockAsyncHTTPClient)
    yield AsyncHTTPClient()
    AsyncHTTPClient.configure(before)


LOGINS = [
    # (what, auth section, where the user is placed {group: role}, allowed, admin, hub groups)
    (
        "a Guest of data-science inherits data-science/admins: no admin",
        "allowed_groups: [data-science]\nadmin_groups: [data-science/admins]",
        {"data-science": "guest"},
        True,
        False,
        [],
    ),
    (
        "placed in data-science/admins: admin",
        "allowed_groups: [data-science]\nadmin_groups: [data-science/admins]",
        {"data-science/admins": "guest"},
        True,
        True,
        ["data-science/admins"],
    ),
    (
        "placed in data-science/power-users only: may log in, gets the power-users profile group",
        "allowed_groups: [data-science]",
        {"data-science/power-users": "developer"},
        True,
        None,
        ["data-science/power-users"],
    ),
    (
        "a Maintainer of data-science inherits maintainer in data-science/admins: a role rule admits that",
        "allowed_groups: [data-science]\nadmin_groups: [{group: data-science/admins, min_access_level: maintainer}]",
        {"data-science": "maintainer"},
        True,
        True,
        ["data-science/admins:maintainer"],
    ),
    (
        "a role rule for login admits a Maintainer of data-science",
        "allowed_groups: [{group: data-science, min_access_level: maintainer}]",
        {"data-science": "maintainer"},
        True,
        None,
        [],
    ),
    (
        "a role rule for login refuses a Developer",
        "allowed_groups: [{group: data-science, min_access_level: maintainer}]",
        {"data-science": "developer"},
        False,
        None,
        None,
    ),
    ("in no allowed group: refused", "allowed_groups: [data-science]", {"ml-gpu": "owner"}, False, None, None),
]


@pytest.mark.parametrize("what, auth, placed, allowed, admin, groups", LOGINS, ids=[row[0] for row in LOGINS])
async def test_login(client, tmp_path, what, auth, placed, allowed, admin, groups):
    authenticator = DSGitLabOAuthenticator(config=admin_yaml(auth, tmp_path), http_client=client)
    gitlab = GitLab(client, placed)
    model = await authenticator.get_authenticated_user(gitlab.login(), None)
    if not allowed:
        assert model is None, what
        return
    assert model is not None, what
    assert model["name"] == "alice" and model["admin"] is admin, (what, model["admin"])
    assert sorted(model["groups"]) == groups, what
    assert model["auth_state"]["hub_groups"] == groups
    assert model["auth_state"]["token_expires_at"] > time.time() + 3600


class OverlapWatching(DSGitLabOAuthenticator):
    """Holds GitLab's answer to ``/user`` until the login has asked for its group list (for 2 s
    at most), and notes whether it had."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.groups_asked, self.user_answered = asyncio.Event(), []
        self.refuse_user = self.groups_hang = False

    async def httpfetch(self, url, *args, **kwargs):
        path = urlparse(url).path
        if path == f"{API}/groups":
            self.groups_asked.set()
            if self.groups_hang:
                await asyncio.Event().wait()
        elif path == f"{API}/user":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.groups_asked.wait(), 2)
            self.user_answered.append("after the groups were asked" if self.groups_asked.is_set() else "alone")
            if self.refuse_user:
                raise HTTPClientError(401, "Unauthorized")
        return await super().httpfetch(url, *args, **kwargs)


def group_list_tasks():
    return [t for t in asyncio.all_tasks() if "fetch_group_lists" in repr(t.get_coro()) and not t.done()]


async def test_a_login_asks_for_the_group_lists_while_gitlab_answers_who_the_user_is(client, tmp_path):
    """One GitLab round trip less per login: the group lists need only the token."""
    auth = "allowed_groups: [data-science]\nadmin_groups: [{group: data-science/admins, min_access_level: maintainer}]"
    authenticator = OverlapWatching(config=admin_yaml(auth, tmp_path), http_client=client)
    model = await authenticator.get_authenticated_user(GitLab(client, {"data-science": "maintainer"}).login(), None)
    assert authenticator.user_answered == ["after the groups were asked"]
    assert model["admin"] is True and model["groups"] == ["data-science/admins:maintainer"]


async def test_a_login_gitlab_refuses_at_user_leaves_no_group_list_request_running(client, tmp_path):
    authenticator = OverlapWatching(config=admin_yaml("allowed_groups: [data-science]", tmp_path), http_client=client)
    authenticator.refuse_user = authenticator.groups_hang = True
    with pytest.raises(HTTPClientError):
        await authenticator.get_authenticated_user(GitLab(client, {"data-science": "guest"}).login(), None)
    for _ in range(100):  # a cancelled task ends at its next step
        if not group_list_tasks():
            break
        await asyncio.sleep(0.01)
    assert group_list_tasks() == []


async def test_many_logins_at_once_have_their_gitlab_calls_under_way_together(tmp_path):
    """More than tornado's 10 requests at once reach GitLab (a real HTTP server on loopback that
    answers once 20 requests are waiting, or after 3 s)."""
    waiting, all_arrived = [], asyncio.Event()

    class Slow(web.RequestHandler):
        async def get(self):
            waiting.append(1)
            if len(waiting) >= 20:
                all_arrived.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(all_arrived.wait(), 3)
            self.write({"in_flight_seen": len(waiting)})

    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([(r"/api/v4/user", Slow)]))
    server.add_sockets([sock])
    try:
        authenticator = DSGitLabOAuthenticator(config=admin_yaml("allowed_groups: [data-science]", tmp_path))
        url = f"http://127.0.0.1:{port}/api/v4/user"
        answers = await asyncio.gather(*(authenticator.httpfetch(url, "test", request_timeout=10) for _ in range(20)))
    finally:
        server.stop()
    assert {a["in_flight_seen"] for a in answers} == {20}  # with 10 at most: the first 10 answer seeing 10


class User:
    """What the authenticator uses of a hub user: name, auth_state, servers."""

    def __init__(self, name, auth_state):
        self.name, self.auth_state, self.stopped = name, auth_state, []
        self.spawners = {"": type("Spawner", (), {"active": True, "ready": True})()}

    async def get_auth_state(self):
        return self.auth_state

    async def save_auth_state(self, state):
        self.auth_state = state

    async def stop(self, name):
        self.stopped.append(name)


async def logged_in(client, tmp_path, placed=None, auth="allowed_groups: [data-science]", checked_ago=3600):
    """A user who logged in ``checked_ago`` seconds ago (by default long enough for a refresh to
    be due and for no spawn to rely on that check)."""
    authenticator = DSGitLabOAuthenticator(config=admin_yaml(auth, tmp_path), http_client=client)
    gitlab = GitLab(client, placed or {"data-science/power-users": "developer"})
    model = await authenticator.get_authenticated_user(gitlab.login(), None)
    assert abs(model["auth_state"]["checked_at"] - time.time()) < 60
    model["auth_state"]["checked_at"] -= checked_ago
    return authenticator, gitlab, User(model["name"], model["auth_state"])


def expire_access_token(client, user):
    """GitLab no longer takes the access token (it expired): /user answers 401."""
    client.access_tokens.pop(user.auth_state["access_token"])


async def test_refresh_with_gitlab_answering_5xx_keeps_the_session(client, tmp_path):
    authenticator, gitlab, user = await logged_in(client, tmp_path)
    expire_access_token(client, user)
    gitlab.token_endpoint = 502
    assert await authenticator.refresh_user(user) is True
    assert user.stopped == []


async def test_refresh_answered_invalid_grant_revokes_with_403_and_stops_the_servers(client, tmp_path):
    authenticator, gitlab, user = await logged_in(client, tmp_path)
    expire_access_token(client, user)
    gitlab.token_endpoint = 400
    with pytest.raises(web.HTTPError) as refused:
        await authenticator.refresh_user(user)
    assert refused.value.status_code == 403 and "GitLab refused their tokens" in refused.value.log_message
    assert user.stopped == [""]


async def test_refresh_after_leaving_the_allowed_groups_revokes(client, tmp_path):
    authenticator, gitlab, user = await logged_in(client, tmp_path)
    gitlab.by_level = listed_groups({"ml-gpu": "owner"})
    with pytest.raises(web.HTTPError) as refused:
        await authenticator.refresh_user(user)
    assert refused.value.status_code == 403 and "membership" in refused.value.log_message


async def test_refresh_follows_group_changes(client, tmp_path):
    authenticator, gitlab, user = await logged_in(client, tmp_path)
    gitlab.placed = {"data-science/analysts": "developer"}
    gitlab.by_level = listed_groups(gitlab.placed)
    refreshed = await authenticator.refresh_user(user)
    assert refreshed["groups"] == [] and user.auth_state["hub_groups"] == []


@pytest.mark.parametrize(
    "auth, checked_ago, reused",
    [
        ("allowed_groups: [data-science]", 5, True),  # a spawn right after logging in
        ("allowed_groups: [data-science]", 61, False),  # older than spawn_refresh_age (60)
        ("allowed_groups: [data-science]\nspawn_refresh_age: 0", 1, False),  # every spawn checks
        ("allowed_groups: [data-science]\nrefresh_age: 10\nspawn_refresh_age: 60", 11, False),  # never past refresh_age
        ("allowed_groups: [data-science]\nrefresh_age: 10\nspawn_refresh_age: 60", 9, True),
    ],
)
async def test_a_spawn_relies_on_a_recent_check_only(client, tmp_path, auth, checked_ago, reused):
    """GitLab now refuses the user's tokens: a refresh that relies on the last check lets them
    spawn, one that checks revokes them (403, servers stopped)."""
    authenticator, gitlab, user = await logged_in(client, tmp_path, auth=auth, checked_ago=checked_ago)
    expire_access_token(client, user)
    gitlab.token_endpoint = 400
    if reused:
        assert await authenticator.refresh_user(user) is True and user.stopped == []
        return
    with pytest.raises(web.HTTPError) as refused:
        await authenticator.refresh_user(user)
    assert refused.value.status_code == 403 and user.stopped == [""]


async def test_a_spawn_relying_on_the_last_check_keeps_jupyterhubs_refresh_clock(client, tmp_path):
    """JupyterHub restarts its refresh clock (User._auth_refreshed) when a refresh succeeds; one
    that relied on the last check puts it back, so the next refresh is still due refresh_age
    after that check."""
    authenticator, gitlab, user = await logged_in(client, tmp_path, checked_ago=5)
    user._auth_refreshed = 1234.5  # JupyterHub's (monotonic) time of the login
    assert await authenticator.refresh_user(user) is True
    user._auth_refreshed = 9999.0  # what JupyterHub's refresh_auth sets right after it returned
    await asyncio.sleep(0)
    assert user._auth_refreshed == 1234.5


async def test_the_refresh_lock_table_does_not_grow_with_users(client, tmp_path):
    authenticator, gitlab, user = await logged_in(client, tmp_path, checked_ago=5)
    for i in range(100):
        user.name = f"user{i}"
        assert await authenticator.refresh_user(user) is True
    gc.collect()
    assert len(authenticator._refresh_locks) == 0


@pytest.mark.parametrize("token_endpoint, status", [(None, None), (502, 503), (400, 403)])
async def test_fresh_access_token_refreshes_a_token_close_to_expiry(client, tmp_path, token_endpoint, status):
    """The hub's token endpoint for servers: a fresh token; GitLab down: 503; GitLab refusing: 403."""
    authenticator, gitlab, user = await logged_in(client, tmp_path)
    old = user.auth_state["access_token"]
    user.auth_state["token_expires_at"] = time.time() + 60
    gitlab.token_endpoint = token_endpoint
    if status is not None:
        with pytest.raises(web.HTTPError) as refused:
            await authenticator.fresh_access_token(user, None, 300)
        assert refused.value.status_code == status
        return
    state = await authenticator.fresh_access_token(user, None, 300)
    assert state["access_token"] != old and state["token_expires_at"] > time.time() + 3600
    assert user.auth_state == state  # saved
    gitlab.token_endpoint = 400  # valid long enough now: GitLab is not asked again
    assert (await authenticator.fresh_access_token(user, None, 300))["access_token"] == state["access_token"]
