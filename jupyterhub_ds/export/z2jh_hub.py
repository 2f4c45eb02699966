"""Run in the Z2JH hub pod by the exported ``hub.extraConfig``: the jupyterhub-ds policy the
chart has no values for. ``configure(c, settings)`` changes the hub's config ``c`` after
the chart has filled it from the values (``settings`` is ``custom.jupyterhub-ds``):

- ``KubeSpawner.profile_list`` becomes a callable (KubeSpawner 7 accepts one; it has no
  group filter of its own) that offers each user the profiles whose ``allowed_groups`` name
  one of their JupyterHub groups exactly, through ``allowed_profiles``, the very function
  the Docker spawner uses. KubeSpawner resolves a start request against the same callable,
  so a profile outside the user's groups cannot be started through the REST API either.
- each server gets ``JUPYTERHUB_DS_WORKSPACE``: the workspace projects of its owner's groups.

Needs jupyterhub-ds installed in the hub image (the authenticator ``ds-gitlab`` does too).
"""

import json

from tornado import web

from ..spawner.profiles import allowed_profiles, workspace_for

WORKSPACE_ENV = "JUPYTERHUB_DS_WORKSPACE"
NO_PROFILE = "No profile is available to you: ask an admin to add you to a GitLab group that has one"


def user_group_names(spawner):
    """The user's JupyterHub groups (synced from GitLab at login and refresh)."""
    return sorted(g.name for g in spawner.user.groups)


def group_profile_list(profiles):
    """A ``profile_list`` callable: the entries of ``profiles`` the spawner's user may start."""
    if isinstance(profiles, dict):  # KubeSpawner's dict form: entries in key order
        profiles = [profiles[k] for k in sorted(profiles)]
    profiles = list(profiles)

    def profile_list(spawner):
        offered = allowed_profiles(profiles, user_group_names(spawner))
        if not offered:
            # an empty list would make KubeSpawner start the bare default instead of refusing
            raise web.HTTPError(403, NO_PROFILE)
        return offered

    return profile_list


def workspace_env(projects):
    """An environment value (JupyterHub calls it with the spawner): the owner's projects."""

    def value(spawner):
        return json.dumps(workspace_for(projects, user_group_names(spawner)), sort_keys=True)

    return value


def configure(c, settings):
    spawner = c.KubeSpawner
    if "profile_list" in spawner and not callable(spawner.profile_list):
        spawner.profile_list = group_profile_list(spawner.profile_list)
    projects = (settings or {}).get("workspace_projects") or []
    if projects:
        env = dict(spawner.environment) if "environment" in spawner else {}
        env[WORKSPACE_ENV] = workspace_env(projects)
        spawner.environment = env
