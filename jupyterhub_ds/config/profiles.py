"""Profiles from the admin YAML -> the normalized dicts ``c.ProfileSpawnerMixin.profiles``.

The normalized form (the contract with ``jupyterhub_ds.spawner.profiles``) has exactly the
keys of ``PROFILE_KEYS``; ``allowed_groups`` are group rule keys (``a/b`` or ``a:maintainer``,
matched exactly against the user's hub groups, see ``jupyterhub_ds.gitlab_groups``); sizes are int bytes, mounts are Docker-style
``{source: {"bind": target, "mode": "ro"|"rw"}}`` and environment values are strings.
"""

import re

from ..gitlab_groups import entry_key
from ..sizes import parse_size

PROFILE_KEYS = (
    "slug",
    "display_name",
    "description",
    "default",
    "images",
    "cpu_limit",
    "mem_limit",
    "cpu_guarantee",
    "mem_guarantee",
    "pids_limit",
    "gpus",
    "volumes",
    "environment",
    "allowed_groups",
    "idle_timeout",
    "placement",
)


PLACEMENT = re.compile(
    r"^\s*(node\.(?:id|hostname|role|platform\.os|platform\.arch|labels\.[A-Za-z0-9_.-]+)|engine\.labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*(\S+)\s*$"
)


def placement_constraint(text):
    """One Swarm placement constraint as Swarm writes it: ``node.labels.gpu==true``."""
    attribute, op, value = PLACEMENT.match(text).groups()
    return f"{attribute}{op}{value}"


def mounts(entries):
    """``[{source, target, mode}]`` -> ``{source: {"bind": target, "mode": mode}}``."""
    return {m["source"]: {"bind": m["target"], "mode": m.get("mode", "ro")} for m in entries}


def _env_value(value):
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def normalize_profile(profile, default_image):
    """One validated, defaults-filled profile -> its normalized dict."""
    if "images" in profile:
        images = list(profile["images"])
    elif "image" in profile:
        images = [profile["image"]]
    else:
        images = [default_image]
    cpu = lambda v: None if v is None else float(v)  # noqa: E731
    return {
        "slug": profile["slug"],
        "display_name": profile.get("display_name") or profile["slug"],
        "description": profile["description"],
        "default": bool(profile["default"]),
        "images": images,
        "cpu_limit": cpu(profile["cpu_limit"]),
        "mem_limit": parse_size(profile["mem_limit"]),
        "cpu_guarantee": cpu(profile["cpu_guarantee"]),
        "mem_guarantee": parse_size(profile["mem_guarantee"]),
        "pids_limit": profile["pids_limit"],
        "gpus": profile["gpus"],
        "volumes": mounts(profile["volumes"]),
        "environment": {k: _env_value(v) for k, v in profile["environment"].items()},
        "allowed_groups": [entry_key(g) for g in profile["allowed_groups"]],
        "idle_timeout": profile["idle_timeout"],
        # "node.labels.gpu == true" -> "node.labels.gpu==true" (Swarm's own spelling)
        "placement": [placement_constraint(c) for c in profile["placement"]],
    }


def normalize_profiles(profiles, default_image):
    return [normalize_profile(p, default_image) for p in profiles]
