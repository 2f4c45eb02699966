"""Profile resolution: which profiles a user may have, and what a chosen one means.

Pure functions over plain data (the normalized profile dicts the admin config produces,
see ``jupyterhub_ds.config``), so they are unit-tested on tables without a hub or Docker.

A normalized profile is a dict with exactly these keys::

    slug, display_name, description, default (bool), images ([str], >= 1),
    cpu_limit (float|None), mem_limit (int bytes|None), cpu_guarantee (float|None),
    mem_guarantee (int bytes|None), pids_limit (int|None), gpus (int: 0 none, -1 all),
    volumes ({source: {"bind": target, "mode": "ro"|"rw"}}), environment ({str: str}),
    allowed_groups ([str], empty = everyone), idle_timeout (int seconds|None),
    placement ([str] Swarm placement constraints like ``node.labels.gpu==true``; Swarm only)

``user_options`` (from the spawn form or the REST API) is ``{"profile": slug}`` plus, when
the profile lists several images, an optional ``{"image": one_of_them}``.
"""

from dataclasses import dataclass, field

from jupyterhub_ds.sizes import format_size

USER_OPTION_KEYS = ("profile", "image")


class ProfileError(Exception):
    """A refused profile choice. ``status`` is the HTTP status the hub should answer with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ResolvedProfile:
    """What a chosen profile means for one user's container."""

    slug: str
    display_name: str
    image: str
    cpu_limit: float | None = None
    mem_limit: int | None = None
    cpu_guarantee: float | None = None
    mem_guarantee: int | None = None
    pids_limit: int | None = None
    gpus: int = 0
    volumes: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    idle_timeout: int | None = None
    placement: tuple = ()  # Swarm placement constraints (spawner.kind: swarm only)


def _group_allows(allowed_group, user_groups):
    """Exact group names: the user's groups come from GitLab, which already lists the
    subgroups a member of ``a`` inherits (``a/b``); a member of ``a/b`` only is not a member
    of ``a``, exactly as GitLab sees it."""
    return allowed_group in user_groups


def is_allowed(profile, user_groups):
    allowed = profile.get("allowed_groups") or []
    return not allowed or any(_group_allows(a, user_groups) for a in allowed)


def allowed_profiles(profiles, user_groups):
    """The profiles a member of ``user_groups`` may start, in configured order."""
    groups = set(user_groups or ())
    return [p for p in profiles if is_allowed(p, groups)]


def default_profile(profiles, user_groups):
    """The profile preselected for this user: the configured default if allowed, else the first."""
    allowed = allowed_profiles(profiles, user_groups)
    if not allowed:
        return None
    return next((p for p in allowed if p.get("default")), allowed[0])


def _describe_groups(groups):
    return ", ".join(sorted(groups))


def resolve(profiles, user_groups, user_options):
    """Check ``user_options`` against what this user may have and resolve the profile.

    Raises ProfileError(400) for malformed options or an unknown slug and ProfileError(403)
    for a profile outside the user's groups. Empty options pick the user's default profile.
    """
    if user_options is None:
        user_options = {}
    if not isinstance(user_options, dict):
        raise ProfileError(
            400, f'user_options must be an object like {{"profile": "small"}}, not {type(user_options).__name__}'
        )
    unknown = sorted(set(user_options) - set(USER_OPTION_KEYS))
    if unknown:
        raise ProfileError(
            400,
            f"unknown user_options key(s) {', '.join(map(repr, unknown))}; allowed keys: {', '.join(USER_OPTION_KEYS)}",
        )
    groups = set(user_groups or ())
    slug = user_options.get("profile")
    if slug is None or slug == "":
        profile = default_profile(profiles, groups)
        if profile is None:
            raise ProfileError(
                403,
                "No profile is available to you: ask an admin to add you to a GitLab group that has one",
            )
    else:
        if not isinstance(slug, str):
            raise ProfileError(400, f"user_options.profile must be a profile name (string), not {slug!r}")
        profile = next((p for p in profiles if p["slug"] == slug), None)
        if profile is None:
            choices = ", ".join(p["slug"] for p in allowed_profiles(profiles, groups)) or "none"
            raise ProfileError(400, f"Unknown profile {slug!r}; profiles available to you: {choices}")
        if not is_allowed(profile, groups):
            raise ProfileError(
                403,
                f"Profile {slug!r} is not available to you: it needs membership of one of the GitLab groups "
                f"{_describe_groups(profile['allowed_groups'])}",
            )
    image = user_options.get("image")
    if image is None or image == "":
        image = profile["images"][0]
    elif not isinstance(image, str) or image not in profile["images"]:
        raise ProfileError(
            400,
            f"Image {image!r} is not allowed for profile {profile['slug']!r}; choose one of: {', '.join(profile['images'])}",
        )
    return ResolvedProfile(
        slug=profile["slug"],
        display_name=profile["display_name"],
        image=image,
        cpu_limit=profile.get("cpu_limit"),
        mem_limit=profile.get("mem_limit"),
        cpu_guarantee=profile.get("cpu_guarantee"),
        mem_guarantee=profile.get("mem_guarantee"),
        pids_limit=profile.get("pids_limit"),
        gpus=profile.get("gpus") or 0,
        volumes=dict(profile.get("volumes") or {}),
        environment=dict(profile.get("environment") or {}),
        idle_timeout=profile.get("idle_timeout"),
        placement=tuple(profile.get("placement") or ()),
    )


def summary(profile):
    """One line for the form: '2 CPU · 2 GB RAM · 1 GPU'."""
    parts = []
    if profile.get("cpu_limit") is not None:
        parts.append(f"{profile['cpu_limit']:g} CPU")
    if profile.get("mem_limit") is not None:
        parts.append(f"{format_size(profile['mem_limit'])} RAM")
    gpus = profile.get("gpus") or 0
    if gpus == -1:
        parts.append("all GPUs")
    elif gpus:
        parts.append(f"{gpus} GPU" + ("s" if gpus > 1 else ""))
    return " · ".join(parts) or "no limits"


def workspace_for(workspace_projects, user_groups):
    """The projects to clone for this user: ``[{"project", "ref"}]`` whose groups they are in
    (or that have no groups), in configured order."""
    groups = set(user_groups or ())
    return [
        {"project": p["project"], "ref": p.get("ref")}
        for p in workspace_projects
        if not p.get("groups") or any(_group_allows(g, groups) for g in p["groups"])
    ]
