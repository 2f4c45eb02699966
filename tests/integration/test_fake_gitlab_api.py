"""REST details the product relies on: pagination over >100 MRs, members, groups, version, %2F ids."""

import pytest
import requests

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"


def test_paginate_more_than_100_merge_requests(gitlab_server):
    gl = gitlab_server.client()
    project = gl.projects.get(PROJECT)
    count = 105
    for n in range(count):
        project.branches.create({"branch": f"bulk/{n:03d}", "ref": "main"})
        project.mergerequests.create({"source_branch": f"bulk/{n:03d}", "target_branch": "main", "title": f"Bulk {n}"})

    r = requests.get(
        f"{gitlab_server.url}/api/v4/projects/{project.id}/merge_requests",
        timeout=30,
        params={"per_page": 50, "page": 2, "state": "opened"},
        headers={"PRIVATE-TOKEN": gitlab_server.admin_token},
    )
    assert r.status_code == 200 and len(r.json()) == 50
    assert (r.headers["X-Total"], r.headers["X-Total-Pages"], r.headers["X-Page"], r.headers["X-Per-Page"]) == (
        "105",
        "3",
        "2",
        "50",
    )
    assert (r.headers["X-Next-Page"], r.headers["X-Prev-Page"]) == ("3", "1")
    links = {
        part.split('rel="')[1].rstrip('"'): part.split(">")[0].lstrip("<") for part in r.headers["Link"].split(", ")
    }
    assert set(links) == {"prev", "next", "first", "last"}
    assert links["next"].startswith(f"{gitlab_server.url}/api/v4/projects/{project.id}/merge_requests?")
    assert "page=3" in links["next"] and "state=opened" in links["next"] and "per_page=50" in links["next"]

    seen = [mr.iid for mr in project.mergerequests.list(iterator=True, per_page=20, state="opened")]
    assert len(seen) == count and sorted(seen) == list(range(1, count + 1))
    assert seen[0] == count  # newest first, like GitLab
    last = requests.get(
        f"{gitlab_server.url}/api/v4/projects/{project.id}/merge_requests",
        timeout=30,
        params={"per_page": 100, "page": 2},
        headers={"PRIVATE-TOKEN": gitlab_server.admin_token},
    )
    assert len(last.json()) == 5 and last.headers["X-Next-Page"] == "" and 'rel="next"' not in last.headers["Link"]
    simple = project.mergerequests.list(view="simple", per_page=3, get_all=False)
    assert len(simple) == 3 and "sha" not in simple[0].attributes
    bulk_branches = project.branches.list(search="bulk/", get_all=True)
    assert len(bulk_branches) == count


def test_version_and_user_shapes(gitlab_server):
    token = gitlab_server.user_token("alice", ["read_user"])
    headers = {"Authorization": f"Bearer {token}"}
    version = requests.get(f"{gitlab_server.url}/api/v4/version", headers=headers, timeout=10).json()
    parts = version["version"].split("-")[0].split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts) and version["revision"]
    me = requests.get(f"{gitlab_server.url}/api/v4/user", headers=headers, timeout=10).json()
    assert me["username"] == "alice" and me["web_url"] == f"{gitlab_server.url}/alice"
    assert {"id", "name", "state", "avatar_url", "email", "is_admin", "created_at"} <= set(me)
    gl = gitlab_server.client(token)
    gl.auth()
    assert gl.user.username == "alice" and gl.version()[0] == version["version"]


def test_nested_group_membership_double_encoded_and_inherited(gitlab_server):
    alice_id, bob_id, carol_id = (gitlab_server.user_id(u) for u in ("alice", "bob", "carol"))
    token = gitlab_server.user_token("alice", ["read_api"])
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{gitlab_server.url}/api/v4/groups"
    # oauthenticator sends nested group paths double-encoded.
    for encoded in ("data-science%252Fanalysts", "data-science%2Fanalysts"):
        r = requests.get(f"{base}/{encoded}/members/all/{alice_id}", headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["username"] == "alice" and r.json()["access_level"] == 30
    inherited = requests.get(f"{base}/data-science%252Fanalysts/members/all/{bob_id}", headers=headers, timeout=10)
    assert inherited.status_code == 200 and inherited.json()["access_level"] == 40
    direct_only = requests.get(f"{base}/data-science%2Fanalysts/members/{bob_id}", headers=headers, timeout=10)
    assert direct_only.status_code == 404
    outsider = requests.get(f"{base}/data-science%252Fanalysts/members/all/{carol_id}", headers=headers, timeout=10)
    assert outsider.status_code == 404
    groups = requests.get(
        gitlab_server.url + "/api/v4/groups", params={"min_access_level": 30}, headers=headers, timeout=10
    ).json()
    assert [g["full_path"] for g in groups] == ["data-science/analysts"]
    assert groups[0]["parent_id"] is not None


def test_admin_removes_and_adds_a_group_member(gitlab_server):
    alice_id = gitlab_server.user_id("alice")
    admin = {"PRIVATE-TOKEN": gitlab_server.admin_token}
    url = f"{gitlab_server.url}/api/v4/groups/data-science%2Fanalysts/members"
    assert requests.delete(f"{url}/{alice_id}", headers=admin, timeout=10).status_code == 204
    assert requests.get(f"{url}/all/{alice_id}", headers=admin, timeout=10).status_code == 404
    assert requests.delete(f"{url}/{alice_id}", headers=admin, timeout=10).status_code == 404
    added = requests.post(url, headers=admin, json={"user_id": alice_id, "access_level": 40}, timeout=10)
    assert added.status_code == 201 and added.json()["access_level"] == 40
    dup = requests.post(url, headers=admin, json={"user_id": alice_id, "access_level": 40}, timeout=10)
    assert dup.status_code == 409
    # A developer of the group is not allowed to manage its members.
    dave = {"PRIVATE-TOKEN": gitlab_server.user_token("dave", ["api"])}
    assert requests.delete(f"{url}/{alice_id}", headers=dave, timeout=10).status_code == 403
    gl = gitlab_server.client()
    group = gl.groups.get("data-science/analysts")
    group.members.delete(alice_id)
    assert alice_id not in [m.id for m in group.members.list(get_all=True)]


def test_project_by_encoded_path_and_branch_with_slash(gitlab_server):
    gl = gitlab_server.client()
    project = gl.projects.get(PROJECT)
    assert gl.projects.get(project.id).path_with_namespace == PROJECT
    project.branches.create({"branch": "feature/a/b", "ref": "main"})
    r = requests.get(
        f"{gitlab_server.url}/api/v4/projects/data-science%2Fnotebooks/repository/branches/feature%2Fa%2Fb",
        headers={"PRIVATE-TOKEN": gitlab_server.admin_token},
        timeout=10,
    )
    assert (
        r.status_code == 200 and r.json()["name"] == "feature/a/b" and r.json()["commit"]["title"] == "Initial commit"
    )
    project.branches.delete("feature/a/b")
    assert "feature/a/b" not in [b.name for b in project.branches.list(get_all=True)]
    f = project.files.get("analysis/churn.py", ref="main")
    assert f.decode() == b"print('churn')\n"
