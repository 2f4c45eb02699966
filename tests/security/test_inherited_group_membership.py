"""Hole: inherited GitLab membership made people hub admins. GitLab lists a user's groups *and
every descendant of them* (``GET /groups?min_access_level=``), so with ``admin_groups:
[data-science/admins]`` any Guest of ``data-science`` became a hub admin (with
``admin:auth_state`` on every user), and the power-users profile was everyone's.

Control (jupyterhub_ds.gitlab_groups, DSGitLabOAuthenticator): a group grants a privilege only
to people placed in it or in a subgroup; inherited membership counts only for an entry with
``min_access_level``. Login admits people placed in an allowed group or a subgroup, and
members inherited from a parent group.
"""

import re
import secrets

import pytest

from jupyterhub_ds.gitlab_groups import (
    GUEST,
    GroupRule,
    Memberships,
    certainly_direct,
    grants,
    levels_needed,
    lookups_for,
    may_log_in,
)
from jupyterhub_ds.spawner.profiles import allowed_profiles, workspace_for
from tests.fixtures.hub_login import login_via_gitlab
from tests.fixtures.sandbox import password

TREE = [
    "data-science",
    "data-science/admins",
    "data-science/power-users",
    "data-science/analysts",
    "data-science/analysts/emea",
    "ml-gpu",
]
ADMIN_RULES = [GroupRule("data-science/admins"), GroupRule("platform", 50)]
PROFILES = [
    {"slug": "small", "allowed_groups": ["data-science"], "images": ["i"]},
    {"slug": "large", "allowed_groups": ["data-science/power-users", "data-science:maintainer"], "images": ["i"]},
    {"slug": "gpu", "allowed_groups": ["ml-gpu"], "images": ["i"]},
]
PROJECTS = [{"project": "data-science/churn", "groups": ["data-science/analysts"]}]


def gitlab_answers(direct: dict) -> Memberships:
    """What the authenticator learns from GitLab for a user placed in ``direct`` ({group: level}),
    computed the way GitLab answers: /groups?min_access_level lists direct memberships at that
    level and all their descendants; members/:user_id answers 200 for direct members only."""
    rules = [
        *ADMIN_RULES,
        *(GroupRule.parse(g) for p in PROFILES for g in p["allowed_groups"]),
        *(GroupRule.parse(g) for p in PROJECTS for g in p["groups"]),
    ]

    def listed(level):
        return frozenset(
            g
            for g in TREE + ["platform"]
            if any(lvl >= level and (g == d or g.startswith(d + "/")) for d, lvl in direct.items())
        )

    by_level = {lvl: listed(lvl) for lvl in levels_needed(rules)}
    m = Memberships(by_level, frozenset(certainly_direct(by_level[GUEST])))
    for rule in rules:
        for group in lookups_for(rule, m):
            if group in direct:  # GET /groups/:id/members/:user_id -> 200
                m = Memberships(by_level, m.direct | {group})
                break
    return m


def decide(direct):
    m = gitlab_answers(direct)
    keys = {r.key for r in ADMIN_RULES if grants(r, m)}
    keys |= {g for p in PROFILES for g in p["allowed_groups"] if grants(GroupRule.parse(g), m)}
    keys |= {g for p in PROJECTS for g in p["groups"] if grants(GroupRule.parse(g), m)}
    return {
        "login": may_log_in(GroupRule("data-science"), m) or may_log_in(GroupRule("ml-gpu"), m),
        "admin": any(r.key in keys for r in ADMIN_RULES),
        "profiles": [p["slug"] for p in allowed_profiles(PROFILES, keys)],
        "projects": [p["project"] for p in workspace_for(PROJECTS, keys)],
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    "who, direct, login, admin, profiles, projects",
    [
        ("Guest of the parent group", {"data-science": 10}, True, False, ["small"], []),
        ("Owner of the parent group", {"data-science": 50}, True, False, ["small", "large"], []),
        ("placed in data-science/admins", {"data-science/admins": 30}, True, True, ["small"], []),
        (
            "Guest of the parent and placed in admins",
            {"data-science": 10, "data-science/admins": 10},
            True,
            True,
            ["small"],
            [],
        ),
        ("placed in power-users only", {"data-science/power-users": 30}, True, False, ["small", "large"], []),
        (
            "placed in a sub-subgroup of analysts",
            {"data-science/analysts/emea": 30},
            True,
            False,
            ["small"],
            ["data-science/churn"],
        ),
        (
            "Maintainer of the parent: large by the role entry",
            {"data-science": 40},
            True,
            False,
            ["small", "large"],
            [],
        ),
        ("Developer of the parent: no role entry applies", {"data-science": 30}, True, False, ["small"], []),
        ("Owner of platform: admin by the role entry", {"platform": 50}, False, True, [], []),
        ("Maintainer of platform", {"platform": 40}, False, False, [], []),
        ("only in ml-gpu", {"ml-gpu": 30}, True, False, ["gpu"], []),
        ("in no group", {}, False, False, [], []),
    ],
)
def test_group_privileges_follow_placement_not_inheritance(who, direct, login, admin, profiles, projects):
    assert decide(direct) == {"login": login, "admin": admin, "profiles": profiles, "projects": projects}, who


# ---- the same with the real hub and the GitLab stand-in -----------------------------------------------

PEOPLE = {  # username -> {group: access level}
    "gus": {"data-science": 10},  # a Guest of the parent group
    "pam": {"data-science/power-users": 30},  # placed in a subgroup only
    "ada": {"data-science/admins": 30},
    "max": {"data-science": 40},  # Maintainer of the parent
    "carol": {},
}


@pytest.fixture(scope="module")
def sandbox_seed_data():
    users = [
        {
            "username": "root",
            "name": "Admin",
            "email": "root@example.com",
            "password": password("root"),
            "is_admin": True,
            "personal_access_tokens": [{"name": "admin", "token": "glpat-sec-admin-0001", "scopes": ["api"]}],
        }
    ]
    users += [{"username": u, "name": u.title(), "email": f"{u}@example.com", "password": password(u)} for u in PEOPLE]
    groups = [
        {
            "path": g,
            "name": g.rsplit("/", 1)[-1],
            "members": [{"username": u, "access_level": lvl[g]} for u, lvl in PEOPLE.items() if g in lvl],
        }
        for g in TREE
    ]
    return {
        "users": users,
        "groups": groups,
        "projects": [],
        "applications": [
            {
                "name": "JupyterHub",
                "uid": "jupyterhub-ds-sec",
                "secret": secrets.token_hex(16),
                "redirect_uris": [],
                "scopes": ["read_user", "api", "read_repository", "write_repository"],
            }
        ],
    }


@pytest.fixture(scope="module")
def sandbox_yaml_changes():
    def change(config):
        config["gitlab"]["client_id"] = "jupyterhub-ds-sec"
        config["auth"].update(allowed_groups=["data-science"], admin_groups=["data-science/admins"])
        config["profiles"] = [
            {"slug": "small", "default": True, "cpu_limit": 1, "mem_limit": "512M", "allowed_groups": ["data-science"]},
            {
                "slug": "large",
                "cpu_limit": 1,
                "mem_limit": "1G",
                "allowed_groups": [
                    "data-science/power-users",
                    {"group": "data-science", "min_access_level": "maintainer"},
                ],
            },
        ]
        config["workspace"] = {"projects": []}
        return config

    return change


def offered_profiles(session, hub_url):
    page = session.get(f"{hub_url}/hub/spawn", timeout=30)
    assert page.status_code == 200, page.text[:300]
    return re.findall(r'name="profile"[^>]*value="([a-z0-9-]+)"', page.text)


@pytest.mark.integration
def test_a_guest_of_the_parent_group_is_no_admin_and_gets_no_subgroup_profile(sandbox):
    session = sandbox.login("gus")
    user = sandbox.hub.api("GET", "/users/gus").json()
    assert user["admin"] is False
    # the hub groups are the file's group rules that hold for him: small's data-science
    assert user["groups"] == ["data-science"]
    assert offered_profiles(session, sandbox.public_url) == ["small"]
    refused = sandbox.as_user("gus", "POST", "/users/gus/server", json={"profile": "large"})
    assert refused.status_code == 403, refused.text
    # admin:auth_state on other users is an admin's: a guest's token cannot read ada's tokens
    sandbox.login("ada")
    assert "auth_state" not in sandbox.as_user("gus", "GET", "/users/ada").text


@pytest.mark.integration
def test_people_placed_in_a_subgroup_log_in_and_get_what_the_subgroup_grants(sandbox):
    session = sandbox.login("pam")  # refused at login before: members/all of data-science does not list her
    assert sandbox.hub.api("GET", "/users/pam").json()["admin"] is False
    assert offered_profiles(session, sandbox.public_url) == ["small", "large"]
    sandbox.login("ada")  # placed in data-science/admins
    assert sandbox.hub.api("GET", "/users/ada").json()["admin"] is True


@pytest.mark.integration
def test_inherited_membership_counts_only_where_the_entry_names_a_role(sandbox):
    session = sandbox.login("max")
    user = sandbox.hub.api("GET", "/users/max").json()
    assert user["admin"] is False  # data-science/admins is inherited, and that entry names no role
    assert sorted(user["groups"]) == ["data-science", "data-science:maintainer"]
    assert offered_profiles(session, sandbox.public_url) == ["small", "large"]
    outsider = login_via_gitlab(sandbox.public_url, "carol", password("carol"))
    assert outsider.response.status_code == 403
