"""Every error path of the GitLab contract: status code AND body shape, table-driven."""

import pytest
import requests

from tests.fixtures.gitlab import run_git

pytestmark = pytest.mark.integration

P = "data-science%2Fnotebooks"
UNAUTHORIZED = {"message": "401 Unauthorized"}
BAD_TOKEN = {"error": "invalid_token", "error_description": "Bad Access Token."}
REVOKED = {"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."}
INSUFFICIENT = "The request requires higher privileges than provided by the access token."


@pytest.fixture
def tokens(gitlab_server):
    """PATs for alice with each scope, plus carol's (a non-member) and dave's (a reporter)."""
    made = {
        scope: gitlab_server.user_token("alice", [scope])
        for scope in ("api", "read_api", "read_user", "read_repository", "write_repository")
    }
    made["carol"] = gitlab_server.user_token("carol", ["api"])
    made["dave"] = gitlab_server.user_token("dave", ["api"])
    return made


def call(server, method, path, token=None, how="private", **kwargs):
    headers = kwargs.pop("headers", {})
    if token and how == "private":
        headers["PRIVATE-TOKEN"] = token
    elif token and how == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{server.url}/api/v4{path}", headers=headers, timeout=10, **kwargs)


AUTH_CASES = [
    # (id, method, path, token key or literal, how, status, expected body)
    ("no credentials", "GET", "/user", None, "private", 401, UNAUTHORIZED),
    ("no credentials on projects", "GET", f"/projects/{P}", None, "private", 401, UNAUTHORIZED),
    ("no credentials on version", "GET", "/version", None, "private", 401, UNAUTHORIZED),
    ("unknown bearer", "GET", "/user", "=not-a-token", "bearer", 401, BAD_TOKEN),
    ("unknown private token", "GET", "/user", "=glpat-nope", "private", 401, BAD_TOKEN),
    ("read_user cannot list projects", "GET", "/projects", "read_user", "private", 403, "api read_api"),
    (
        "read_api cannot create a branch",
        "POST",
        f"/projects/{P}/repository/branches",
        "read_api",
        "private",
        403,
        "api",
    ),
    ("read_repository cannot read the API", "GET", f"/projects/{P}", "read_repository", "private", 403, "api read_api"),
    (
        "unknown project",
        "GET",
        "/projects/data-science%2Fmissing",
        "api",
        "private",
        404,
        {"message": "404 Project Not Found"},
    ),
    ("invisible project", "GET", f"/projects/{P}", "carol", "private", 404, {"message": "404 Project Not Found"}),
    ("invisible project by id", "GET", "/projects/999999", "api", "private", 404, {"message": "404 Project Not Found"}),
    ("unknown route", "GET", "/no/such/route", "api", "private", 404, {"error": "404 Not Found"}),
    (
        "unknown MR",
        "GET",
        f"/projects/{P}/merge_requests/4242",
        "api",
        "private",
        404,
        {"message": "404 Merge Request Not Found"},
    ),
    (
        "unknown branch",
        "GET",
        f"/projects/{P}/repository/branches/nope",
        "api",
        "private",
        404,
        {"message": "404 Branch Not Found"},
    ),
    (
        "reporter cannot create a branch",
        "POST",
        f"/projects/{P}/repository/branches",
        "dave",
        "private",
        403,
        {"message": "403 Forbidden"},
    ),
    (
        "non-member of group",
        "GET",
        "/groups/data-science%2Fanalysts/members/all/999",
        "api",
        "private",
        404,
        {"message": "404 Not Found"},
    ),
]


@pytest.mark.parametrize("name, method, path, token, how, status, expected", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_api_errors(gitlab_server, tokens, name, method, path, token, how, status, expected):
    value = token[1:] if token and token.startswith("=") else tokens.get(token) if token else None
    body = {"branch": "x", "ref": "main"} if method == "POST" else None
    r = call(gitlab_server, method, path, value, how, json=body)
    assert r.status_code == status, r.text
    if status == 403 and isinstance(expected, str):
        assert r.json() == {"error": "insufficient_scope", "error_description": INSUFFICIENT, "scope": expected}
        assert (
            r.headers["WWW-Authenticate"].startswith("Bearer realm=")
            and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        )
    else:
        assert r.json() == expected
    if expected == BAD_TOKEN:
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


MISSING_CASES = [
    ("/merge_requests", {"source_branch": "main", "target_branch": "main"}, {"error": "title is missing"}),
    ("/merge_requests", {"title": "t"}, {"error": "source_branch is missing, target_branch is missing"}),
    ("/repository/branches", {"branch": "b"}, {"error": "ref is missing"}),
    ("/repository/tags", {"tag_name": "t"}, {"error": "ref is missing"}),
]


@pytest.mark.parametrize("path, payload, expected", MISSING_CASES)
def test_missing_parameters_give_400(gitlab_server, tokens, path, payload, expected):
    r = call(gitlab_server, "POST", f"/projects/{P}{path}", tokens["api"], json=payload)
    assert r.status_code == 400 and r.json() == expected


def test_revoked_oauth_token_is_refused_with_the_revoked_description(gitlab_server):
    app = gitlab_server.seed["applications"][0]
    grant = requests.post(
        f"{gitlab_server.url}/oauth/token",
        timeout=10,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "alice-pass-1",
            "client_id": app["uid"],
            "client_secret": app["secret"],
        },
    ).json()
    assert grant["scope"] == "api"
    assert call(gitlab_server, "GET", "/user", grant["access_token"], "bearer").status_code == 200
    requests.post(
        f"{gitlab_server.url}/oauth/revoke",
        timeout=10,
        data={"token": grant["access_token"], "client_id": app["uid"], "client_secret": app["secret"]},
    )
    r = call(gitlab_server, "GET", "/user", grant["access_token"], "bearer")
    assert r.status_code == 401 and r.json() == REVOKED


@pytest.mark.parametrize("carrier", ["private_header", "private_query", "access_query", "bearer", "basic"])
def test_every_token_carrier_is_accepted(gitlab_server, tokens, carrier):
    token, url = tokens["read_user"], f"{gitlab_server.url}/api/v4/user"
    kwargs = {
        "private_header": {"headers": {"PRIVATE-TOKEN": token}},
        "private_query": {"params": {"private_token": token}},
        "access_query": {"params": {"access_token": token}},
        "bearer": {"headers": {"Authorization": f"Bearer {token}"}},
        "basic": {"auth": ("alice", token)},
    }[carrier]
    r = requests.get(url, timeout=10, **kwargs)
    assert r.status_code == 200 and r.json()["username"] == "alice"


def test_duplicate_mr_and_merge_errors(gitlab_server, tokens):
    api = tokens["api"]
    for branch in ("dup", "stale"):
        assert (
            call(
                gitlab_server, "POST", f"/projects/{P}/repository/branches", api, json={"branch": branch, "ref": "main"}
            ).status_code
            == 201
        )
    first = call(
        gitlab_server,
        "POST",
        f"/projects/{P}/merge_requests",
        api,
        json={"source_branch": "dup", "target_branch": "main", "title": "One"},
    )
    assert first.status_code == 201
    second = call(
        gitlab_server,
        "POST",
        f"/projects/{P}/merge_requests",
        api,
        json={"source_branch": "dup", "target_branch": "main", "title": "Two"},
    )
    assert second.status_code == 409
    assert second.json() == {
        "message": [f"Another open merge request already exists for this source branch: !{first.json()['iid']}"]
    }
    same = call(
        gitlab_server,
        "POST",
        f"/projects/{P}/merge_requests",
        api,
        json={"source_branch": "main", "target_branch": "main", "title": "Same"},
    )
    assert same.status_code == 422 and isinstance(same.json()["message"], list)
    iid = first.json()["iid"]
    wrong_sha = call(gitlab_server, "PUT", f"/projects/{P}/merge_requests/{iid}/merge", api, json={"sha": "0" * 40})
    assert wrong_sha.status_code == 409 and wrong_sha.json()["message"].startswith(
        "SHA does not match HEAD of source branch"
    )
    outsider = call(gitlab_server, "PUT", f"/projects/{P}/merge_requests/{iid}/merge", tokens["dave"])
    assert outsider.status_code == 401 and outsider.json() == UNAUTHORIZED
    assert call(gitlab_server, "PUT", f"/projects/{P}/merge_requests/{iid}/merge", api).status_code == 200
    again = call(gitlab_server, "PUT", f"/projects/{P}/merge_requests/{iid}/merge", api)
    assert again.status_code == 405 and again.json() == {"message": "405 Method Not Allowed"}
    note = call(gitlab_server, "POST", f"/projects/{P}/merge_requests/{iid}/notes", api, json={})
    assert note.status_code == 400 and note.json() == {"error": "body is missing"}
    approve_sha = call(
        gitlab_server, "POST", f"/projects/{P}/merge_requests/{iid}/approve", api, json={"sha": "1" * 40}
    )
    assert approve_sha.status_code == 409


def test_git_http_needs_credentials_and_the_right_scope(gitlab_server, tokens, tmp_path):
    refs = f"{gitlab_server.url}/data-science/notebooks.git/info/refs"
    for auth in (None, ("oauth2", "wrong-token")):
        r = requests.get(refs, params={"service": "git-upload-pack"}, auth=auth, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="GitLab"'
        assert r.text == "HTTP Basic: Access denied\n"
    ok = requests.get(
        refs, params={"service": "git-upload-pack"}, auth=("oauth2", tokens["read_repository"]), timeout=10
    )
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    api_only = requests.get(
        refs, params={"service": "git-upload-pack"}, auth=("oauth2", tokens["read_api"]), timeout=10
    )
    assert api_only.status_code == 403
    hidden = requests.get(
        f"{gitlab_server.url}/data-science/notebooks.git/info/refs",
        timeout=10,
        params={"service": "git-upload-pack"},
        auth=("oauth2", tokens["carol"]),
    )
    assert hidden.status_code == 404

    # A read-only token can clone but not push, and git shows GitLab's message.
    repo = tmp_path / "clone"
    run_git(
        "clone", gitlab_server.repo_url("data-science/notebooks", tokens["read_repository"]), str(repo), home=tmp_path
    )
    run_git("checkout", "-q", "-b", "feature", cwd=repo)
    (repo / "f.txt").write_text("x\n")
    run_git("add", "f.txt", cwd=repo)
    run_git("commit", "-q", "-m", "f", cwd=repo)
    push = run_git("push", "origin", "feature", cwd=repo, check=False)
    assert push.returncode != 0 and "You are not allowed to push code to this project." in push.stderr
    run_git(
        "remote",
        "set-url",
        "origin",
        gitlab_server.repo_url("data-science/notebooks", tokens["write_repository"]),
        cwd=repo,
    )
    assert run_git("push", "origin", "feature", cwd=repo).returncode == 0


def test_server_log_never_contains_tokens(gitlab_server, tokens):
    for carrier in ({"params": {"private_token": tokens["api"]}}, {"params": {"access_token": tokens["read_api"]}}):
        requests.get(f"{gitlab_server.url}/api/v4/user", timeout=10, **carrier)
    requests.get(
        f"{gitlab_server.url}/data-science/notebooks.git/info/refs",
        timeout=10,
        params={"service": "git-upload-pack"},
        auth=("oauth2", tokens["read_repository"]),
    )
    log = gitlab_server.log()
    assert "GET /api/v4/user" in log
    assert not any(t in log for t in tokens.values())
