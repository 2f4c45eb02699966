"""OAuth2 against the GitLab stand-in at the HTTP level: sign-in, consent, PKCE, refresh, revoke, expiry."""

import base64
import hashlib
import html
import re
import secrets
import time
import urllib.parse

import pytest
import requests

pytestmark = pytest.mark.integration

APP = {
    "client_id": "jupyterhub-client-id",
    "client_secret": "jupyterhub-client-secret",
    "redirect_uri": "http://127.0.0.1:8000/hub/oauth_callback",
}


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_fields(page: str) -> dict:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in found}


def sign_in(session: requests.Session, base: str, authorize_url: str, user="alice", password="alice-pass-1"):
    """Follow authorize -> sign-in form -> back to authorize; returns the final response (not followed)."""
    r = session.get(authorize_url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "/users/sign_in" in r.headers["Location"]
    form = session.get(urllib.parse.urljoin(base, r.headers["Location"]), timeout=10)
    assert 'name="user[login]"' in form.text and 'name="user[password]"' in form.text
    fields = hidden_fields(form.text)
    fields.update({"user[login]": user, "user[password]": password})
    r = session.post(f"{base}/users/sign_in", data=fields, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return session.get(urllib.parse.urljoin(base, r.headers["Location"]), allow_redirects=False, timeout=10)


def authorize_url(base, challenge, state="st-123", scope="read_user api", client=APP):
    return f"{base}/oauth/authorize?" + urllib.parse.urlencode(
        {
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uri"],
            "response_type": "code",
            "state": state,
            "scope": scope,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )


def consent(session, base, page, deny=False):
    forms = re.findall(r"<form method=\"post\" action=\"/oauth/authorize\".*?</form>", page, re.S)
    form = next(f for f in forms if ('value="delete"' in f) == deny)
    r = session.post(f"{base}/oauth/authorize", data=hidden_fields(form), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    return urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query), r.headers["Location"]


def get_code(base, verifier_challenge, scope="read_user api"):
    session = requests.Session()
    page = sign_in(session, base, authorize_url(base, verifier_challenge[1], scope=scope))
    assert page.status_code == 200 and "Authorize" in page.text
    query, location = consent(session, base, page.text)
    assert location.startswith(APP["redirect_uri"] + "?")
    assert query["state"] == ["st-123"]
    return query["code"][0]


def exchange(base, code, verifier, **overrides):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": APP["redirect_uri"],
        "client_id": APP["client_id"],
        "client_secret": APP["client_secret"],
        "code_verifier": verifier,
    }
    data.update(overrides)
    return requests.post(f"{base}/oauth/token", data=data, timeout=10)


def test_login_consent_and_pkce_exchange_give_a_working_token(gitlab_server):
    base = gitlab_server.url
    verifier, challenge = pkce_pair()
    code = get_code(base, (verifier, challenge))
    r = exchange(base, code, verifier)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    body = r.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == 7200
    assert body["scope"] == "read_user api" and isinstance(body["created_at"], int) and body["refresh_token"]
    me = requests.get(f"{base}/api/v4/user", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    info = requests.get(f"{base}/oauth/token/info", params={"access_token": body["access_token"]}, timeout=10).json()
    assert info["resource_owner_id"] == me.json()["id"] and info["scope"] == ["read_user", "api"]
    assert info["application"] == {"uid": APP["client_id"]} and 7190 <= info["expires_in"] <= 7200
    assert info["scopes"] == info["scope"] and info["expires_in_seconds"] == info["expires_in"]


def test_deny_redirects_with_access_denied_and_state(gitlab_server):
    base = gitlab_server.url
    session = requests.Session()
    page = sign_in(session, base, authorize_url(base, pkce_pair()[1]))
    query, _ = consent(session, base, page.text, deny=True)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-123"] and "code" not in query


def test_trusted_application_skips_consent(gitlab_server):
    base = gitlab_server.url
    trusted = {"client_id": "trusted-client-id", "redirect_uri": "http://127.0.0.1:8001/callback"}
    r = sign_in(requests.Session(), base, authorize_url(base, pkce_pair()[1], client=trusted, scope="read_user"))
    assert r.status_code == 302 and r.headers["Location"].startswith(trusted["redirect_uri"] + "?code=")


def test_wrong_password_shows_the_form_again(gitlab_server):
    base = gitlab_server.url
    session = requests.Session()
    form = session.get(f"{base}/users/sign_in", timeout=10)
    fields = hidden_fields(form.text)
    fields.update({"user[login]": "alice", "user[password]": "wrong"})
    r = session.post(f"{base}/users/sign_in", data=fields, allow_redirects=False, timeout=10)
    assert r.status_code == 401 and "Invalid login or password." in r.text


@pytest.mark.parametrize("case", ["bad_code", "reused_code", "wrong_redirect_uri", "wrong_verifier", "no_verifier"])
def test_token_exchange_refuses_bad_grants_with_invalid_grant(gitlab_server, case):
    base = gitlab_server.url
    verifier, challenge = pkce_pair()
    code = get_code(base, (verifier, challenge))
    if case == "bad_code":
        r = exchange(base, "not-a-code", verifier)
    elif case == "reused_code":
        assert exchange(base, code, verifier).status_code == 200
        r = exchange(base, code, verifier)
    elif case == "wrong_redirect_uri":
        r = exchange(base, code, verifier, redirect_uri="http://127.0.0.1:8000/elsewhere")
    elif case == "wrong_verifier":
        r = exchange(base, code, pkce_pair()[0])
    else:
        r = exchange(base, code, "")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant" and r.json()["error_description"]


@pytest.mark.parametrize("secret, use_basic", [("wrong-secret", False), ("wrong-secret", True)])
def test_bad_client_credentials_give_401_invalid_client(gitlab_server, secret, use_basic):
    base = gitlab_server.url
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": APP["redirect_uri"]}
    if use_basic:
        r = requests.post(f"{base}/oauth/token", data=data, auth=(APP["client_id"], secret), timeout=10)
    else:
        r = requests.post(
            f"{base}/oauth/token", data={**data, "client_id": APP["client_id"], "client_secret": secret}, timeout=10
        )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_client_may_authenticate_with_http_basic(gitlab_server):
    base = gitlab_server.url
    verifier, challenge = pkce_pair()
    code = get_code(base, (verifier, challenge))
    r = requests.post(
        f"{base}/oauth/token",
        auth=(APP["client_id"], APP["client_secret"]),
        timeout=10,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": APP["redirect_uri"],
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 200 and r.json()["access_token"]


def test_refresh_revokes_both_old_tokens(gitlab_server):
    base = gitlab_server.url
    verifier, challenge = pkce_pair()
    first = exchange(base, get_code(base, (verifier, challenge)), verifier).json()
    r = requests.post(
        f"{base}/oauth/token",
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": APP["client_id"],
            "client_secret": APP["client_secret"],
            "redirect_uri": APP["redirect_uri"],
        },
    )
    assert r.status_code == 200
    second = r.json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    old = requests.get(f"{base}/api/v4/user", headers={"Authorization": f"Bearer {first['access_token']}"}, timeout=10)
    assert old.status_code == 401
    assert old.json() == {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    }
    again = requests.post(
        f"{base}/oauth/token",
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": APP["client_id"],
            "client_secret": APP["client_secret"],
        },
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    new = requests.get(f"{base}/api/v4/user", headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=10)
    assert new.status_code == 200


def test_revoke_endpoint_revokes_the_access_token(gitlab_server):
    base = gitlab_server.url
    verifier, challenge = pkce_pair()
    token = exchange(base, get_code(base, (verifier, challenge)), verifier).json()["access_token"]
    r = requests.post(
        f"{base}/oauth/revoke",
        timeout=10,
        data={"token": token, "client_id": APP["client_id"], "client_secret": APP["client_secret"]},
    )
    assert r.status_code == 200 and r.json() == {}
    info = requests.get(f"{base}/oauth/token/info", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert info.status_code == 401 and info.json()["error"] == "invalid_token"


def test_redirect_uri_must_match_exactly(gitlab_server):
    base = gitlab_server.url
    url = authorize_url(base, pkce_pair()[1], client={**APP, "redirect_uri": APP["redirect_uri"] + "/x"})
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "redirect URI included is not valid" in r.text


def test_scope_outside_the_application_is_refused(gitlab_server):
    base = gitlab_server.url
    trusted = {"client_id": "trusted-client-id", "redirect_uri": "http://127.0.0.1:8001/callback"}
    r = requests.get(
        authorize_url(base, pkce_pair()[1], client=trusted, scope="write_repository"), allow_redirects=False, timeout=10
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert r.status_code == 302 and query["error"] == ["invalid_scope"] and query["state"] == ["st-123"]


class TestShortLivedTokens:
    """The server runs with --token-expires-in 2."""

    @pytest.fixture
    def gitlab_token_expires_in(self):
        return 2

    def test_access_token_expires_and_refresh_renews_it(self, gitlab_server):
        base = gitlab_server.url
        verifier, challenge = pkce_pair()
        tokens = exchange(base, get_code(base, (verifier, challenge)), verifier).json()
        assert tokens["expires_in"] == 2
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert requests.get(f"{base}/api/v4/user", headers=headers, timeout=10).status_code == 200
        time.sleep(2.2)
        expired = requests.get(f"{base}/api/v4/user", headers=headers, timeout=10)
        assert expired.status_code == 401
        assert expired.json() == {
            "error": "invalid_token",
            "error_description": "Token is expired. You can either do re-authorization or token refresh.",
        }
        assert expired.headers["WWW-Authenticate"].startswith("Bearer ")
        renewed = requests.post(
            f"{base}/oauth/token",
            timeout=10,
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": APP["client_id"],
                "client_secret": APP["client_secret"],
            },
        ).json()
        assert (
            requests.get(
                f"{base}/api/v4/user", headers={"Authorization": f"Bearer {renewed['access_token']}"}, timeout=10
            ).status_code
            == 200
        )


def test_pkce_matches_the_gitlab_documentation_vector(gitlab_server):
    """GitLab's oauth2.md example: this verifier hashes to this S256 challenge."""
    verifier = "ks02i3jdikdo2k0dkfodf3m39rjfjsdk0wk349rj3jrhf"
    code = get_code(gitlab_server.url, (verifier, "2i0WFA-0AerkjQm4X4oDEhqA17QIAKNjXpagHBXmO_U"))
    r = exchange(gitlab_server.url, code, verifier)
    assert r.status_code == 200 and r.json()["access_token"]
