"""Profile resolution: which profiles a user sees and what a choice means (pure, tables)."""

import pytest

from jupyterhub_ds.spawner.profiles import ProfileError, allowed_profiles, default_profile, resolve, summary

pytestmark = pytest.mark.unit

GiB = 1024**3


def profile(slug, groups=(), default=False, images=("jupyterhub-ds/singleuser:latest",), **kw):
    base = dict(
        slug=slug,
        display_name=slug.title(),
        description="",
        default=default,
        images=list(images),
        cpu_limit=None,
        mem_limit=None,
        cpu_guarantee=None,
        mem_guarantee=None,
        pids_limit=None,
        gpus=0,
        volumes={},
        environment={},
        allowed_groups=list(groups),
        idle_timeout=None,
    )
    base.update(kw)
    return base


PROFILES = [
    profile("small", ["data-science"], default=True, cpu_limit=2.0, mem_limit=2 * GiB),
    profile("large", ["data-science/power-users"], cpu_limit=16.0, mem_limit=64 * GiB),
    profile("gpu", ["ml-gpu"], gpus=1, images=("jupyterhub-ds/singleuser:latest", "jupyterhub-ds/gpu:latest")),
    profile("open", [], cpu_limit=1.0),
]


@pytest.mark.parametrize(
    "groups, expected",
    [
        ([], ["open"]),
        (["data-science"], ["small", "open"]),
        # GitLab lists inherited subgroups itself (a member of data-science is listed in
        # data-science/power-users too); a member of the subgroup only is not in the parent
        (["data-science", "data-science/power-users"], ["small", "large", "open"]),
        (["data-science/power-users"], ["large", "open"]),
        (["data-science-other"], ["open"]),
        (["ml-gpu", "data-science"], ["small", "gpu", "open"]),
    ],
)
def test_allowed_profiles_follow_gitlab_groups(groups, expected):
    assert [p["slug"] for p in allowed_profiles(PROFILES, groups)] == expected


@pytest.mark.parametrize(
    "groups, expected",
    [(["data-science"], "small"), (["ml-gpu"], "gpu"), ([], "open")],
)
def test_default_profile_is_configured_default_if_allowed_else_first_allowed(groups, expected):
    assert default_profile(PROFILES, groups)["slug"] == expected


def test_resolve_allowed_profile_gives_its_limits():
    r = resolve(PROFILES, ["data-science"], {"profile": "small"})
    assert (r.slug, r.cpu_limit, r.mem_limit, r.image) == ("small", 2.0, 2 * GiB, "jupyterhub-ds/singleuser:latest")


def test_resolve_empty_options_picks_default():
    assert resolve(PROFILES, ["data-science"], {}).slug == "small"
    assert resolve(PROFILES, ["data-science"], None).slug == "small"


def test_resolve_second_image_of_profile():
    r = resolve(PROFILES, ["ml-gpu"], {"profile": "gpu", "image": "jupyterhub-ds/gpu:latest"})
    assert (r.image, r.gpus) == ("jupyterhub-ds/gpu:latest", 1)


@pytest.mark.parametrize(
    "groups, options, status, message",
    [
        (
            ["data-science"],
            {"profile": "large"},
            403,
            "Profile 'large' is not available to you: it needs membership of one of the GitLab groups data-science/power-users",
        ),
        (["data-science"], {"profile": "huge"}, 400, "Unknown profile 'huge'; profiles available to you: small, open"),
        (["data-science"], {"profile": 3}, 400, "user_options.profile must be a profile name (string), not 3"),
        (["data-science"], ["small"], 400, 'user_options must be an object like {"profile": "small"}, not list'),
        (
            ["data-science"],
            {"profile": "small", "cpu_limit": 64},
            400,
            "unknown user_options key(s) 'cpu_limit'; allowed keys: profile, image",
        ),
        (
            ["ml-gpu"],
            {"profile": "gpu", "image": "evil/miner"},
            400,
            "Image 'evil/miner' is not allowed for profile 'gpu'; choose one of: jupyterhub-ds/singleuser:latest, jupyterhub-ds/gpu:latest",
        ),
    ],
)
def test_resolve_refuses_with_status_and_message(groups, options, status, message):
    with pytest.raises(ProfileError) as e:
        resolve(PROFILES, groups, options)
    assert (e.value.status, e.value.message) == (status, message)


def test_no_profile_at_all_is_403_with_advice():
    with pytest.raises(ProfileError) as e:
        resolve(PROFILES[:3], ["marketing"], {})
    assert e.value.status == 403
    assert "ask an admin" in e.value.message


@pytest.mark.parametrize(
    "p, text",
    [
        (PROFILES[0], "2 CPU · 2 GB RAM"),
        (PROFILES[1], "16 CPU · 64 GB RAM"),
        (PROFILES[2], "1 GPU"),
        (profile("x", mem_limit=1536 * 1024**2), "1.5 GB RAM"),
        (profile("y", gpus=-1), "all GPUs"),
        (profile("z"), "no limits"),
    ],
)
def test_summary_shown_on_the_form(p, text):
    assert summary(p) == text


@pytest.mark.parametrize(
    "groups, expected",
    [
        (["data-science", "data-science/analysts"], ["data-science/churn-model", "shared/handbook"]),
        (["data-science/analysts"], ["shared/handbook"]),
        (["ml-gpu"], ["ml/vision", "shared/handbook"]),
        ([], ["shared/handbook"]),
    ],
)
def test_workspace_projects_follow_groups(groups, expected):
    from jupyterhub_ds.spawner.profiles import workspace_for

    projects = [
        {"project": "data-science/churn-model", "groups": ["data-science"], "ref": None},
        {"project": "ml/vision", "groups": ["ml-gpu"], "ref": "main"},
        {"project": "shared/handbook", "groups": [], "ref": None},
    ]
    assert [p["project"] for p in workspace_for(projects, groups)] == expected
