"""Translate each validated, defaults-filled section into traitlets config.

One small pure function per section: ``apply_<section>(section, c, ...)`` writes onto the
``Config`` ``c`` and nothing else (no I/O, no environment). Values that come from the
environment (secrets) or from another section are passed in as keyword arguments by
``loader.load_config``.

Class names are fixed: ``GitLabOAuthenticator`` (oauthenticator's traits),
``DSGitLabOAuthenticator`` (ours), ``ProfileSpawnerMixin`` (our spawner settings),
``DockerSpawner`` (dockerspawner's traits; SwarmSpawner inherits them), ``ProfileSwarmSpawner``
(what only Swarm has).
"""

import json
import sys
from urllib.parse import quote

from ..audit import EVENTS_SCOPE
from ..audit import PATH_ENV as AUDIT_PATH_ENV
from ..gitlab_groups import entry_key
from ..sizes import parse_size
from .profiles import normalize_profiles

PROMOTION_SERVICE = "promotion"
# the hub's own interpreter runs the service: its console script need not be on the hub's PATH
PROMOTION_COMMAND = [sys.executable, "-m", "jupyterhub_ds.promotion"]
PROMOTION_CONFIG_ENV = "JUPYTERHUB_DS_PROMOTION_CONFIG"
# A user's server gets their GitLab access token, alone, from the hub (jupyterhub_ds.gitlab_token);
# nobody but admins holds admin:auth_state (the refresh token).
GITLAB_TOKEN_SCOPE = "custom:jupyterhub-ds:gitlab-token"
# ...and reports its user's review events to the hub's audit trail (jupyterhub_ds.audit.hub).
USER_ROLE = {"name": "user", "scopes": ["self", f"{GITLAB_TOKEN_SCOPE}!user", f"{EVENTS_SCOPE}!user"]}


def with_password(url, password):
    """``postgresql://hub@db/jh`` + password -> ``postgresql://hub:<quoted>@db/jh``."""
    if not password or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def apply_hub(section, c, *, db_password=None):
    c.JupyterHub.bind_url = section["bind"] + section["base_url"]
    c.JupyterHub.public_url = section["public_url"]
    if section["subdomain_host"]:
        # each user's server on its own origin; behind https the hub's cookies get the __Host- prefix
        c.JupyterHub.subdomain_host = section["subdomain_host"].rstrip("/")
        c.JupyterHub.cookie_host_prefix_enabled = section["subdomain_host"].startswith("https://")
    c.JupyterHub.db_url = with_password(section["db_url"], db_password)
    if section["hub_bind_url"]:
        c.JupyterHub.hub_bind_url = section["hub_bind_url"]
    if section["hub_connect_ip"]:
        c.JupyterHub.hub_connect_ip = section["hub_connect_ip"]
    c.GitLabOAuthenticator.admin_users = set(section["admin_users"])
    # Restarting or upgrading the hub must not stop people's servers: they keep running in
    # their containers and the restarted hub finds them again (dockerspawner keeps state).
    c.JupyterHub.cleanup_servers = False


def oauth_callback_url(section, hub):
    if section["callback_url"]:
        return section["callback_url"]
    public = hub["public_url"].rstrip("/")
    if not public.endswith(hub["base_url"].rstrip("/")):
        public += hub["base_url"].rstrip("/")
    return public + "/hub/oauth_callback"


def apply_gitlab(section, c, *, client_secret, callback_url):
    c.JupyterHub.authenticator_class = "ds-gitlab"
    g = c.GitLabOAuthenticator
    g.gitlab_url = section["url"].rstrip("/")
    g.client_id = section["client_id"]
    g.client_secret = client_secret
    g.oauth_callback_url = callback_url
    g.scope = list(section["scopes"])
    g.enable_pkce = True
    if section["api_url"]:
        g.gitlab_api = section["api_url"].rstrip("/")
    if section["ca_bundle"]:
        g.http_request_kwargs = {"ca_certs": section["ca_bundle"]}


def apply_auth(section, c):
    g = c.GitLabOAuthenticator
    g.allowed_project_ids = set(section["allowed_project_ids"])
    g.allow_all = section["allow_all"]
    g.manage_groups = section["manage_groups"]
    # oauthenticator's admin_groups: hub groups, which hold the granted group rules
    g.admin_groups = {entry_key(e) for e in section["admin_groups"]}
    c.Authenticator.enable_auth_state = True
    c.Authenticator.auth_refresh_age = section["refresh_age"]
    ds = c.DSGitLabOAuthenticator
    ds.allowed_group_rules = {entry_key(e) for e in section["allowed_groups"]}
    ds.stop_server_on_revoke = section["stop_server_on_revoke"]
    ds.spawn_refresh_age = section["spawn_refresh_age"]
    ds.token_scope = GITLAB_TOKEN_SCOPE
    c.JupyterHub.custom_scopes = {
        GITLAB_TOKEN_SCOPE: {
            "description": "Get a short-lived GitLab access token of the user (no refresh token, no auth_state)."
        },
        EVENTS_SCOPE: {
            "description": "Report the user's review events (submissions, refusals) to the hub's audit trail."
        },
    }
    # A server token only gets scopes its owner holds: users hold the token scope for themselves.
    c.JupyterHub.load_roles = [{"name": USER_ROLE["name"], "scopes": list(USER_ROLE["scopes"])}]


def privilege_rules(config):
    """Every group rule of the file that grants something besides login (hub groups are made of
    these): admin groups, profiles, workspace projects, and the namespaces of promoted projects
    (their run history is visible to people placed there)."""
    entries = list(config["auth"]["admin_groups"])
    entries += [e for p in config["profiles"] for e in p["allowed_groups"]]
    entries += [e for p in config["workspace"]["projects"] for e in p["groups"]]
    entries += [p["path"].rsplit("/", 1)[0] for p in config["promotion"]["projects"]]
    return {entry_key(e) for e in entries}


def apply_group_rules(config, c):
    c.DSGitLabOAuthenticator.privilege_group_rules = privilege_rules(config)


def apply_profiles(section, c, *, default_image):
    c.ProfileSpawnerMixin.profiles = normalize_profiles(section, default_image)


def apply_images(section, c):
    """``images.allowed`` is enforced when checking the file (profiles may only name listed
    images); ``images.build`` is read by `jupyterhub-ds images build`, not by the hub."""
    c.DockerSpawner.image = section["default"]


def apply_volumes(section, c):
    c.ProfileSpawnerMixin.home_volume_template = section["home_volume"]
    c.ProfileSpawnerMixin.home_mount = section["home_mount"]
    c.ProfileSpawnerMixin.shared_mounts = [
        {"source": m["source"], "target": m["target"], "mode": m["mode"]} for m in section["shared"]
    ]


def apply_hardening(section, c):
    m = c.ProfileSpawnerMixin
    m.run_as_user = section["user"]
    m.no_new_privileges = section["no_new_privileges"]
    m.cap_add = list(section["cap_add"])
    m.default_pids_limit = section["pids_limit"]
    m.allow_swap = section["allow_swap"]
    m.read_only_rootfs = section["read_only_rootfs"]
    m.runtime = section["runtime"] or ""


def apply_network(section, c):
    c.DockerSpawner.network_name = section["name"]
    c.ProfileSpawnerMixin.isolate_containers = not section["containers_can_talk"]
    c.ProfileSwarmSpawner.encrypt_network = section["encrypted"]


def apply_spawner(section, c):
    c.JupyterHub.spawner_class = "ds-swarm" if section["kind"] == "swarm" else "ds-docker"
    c.DockerSpawner.start_timeout = section["start_timeout"]
    c.DockerSpawner.http_timeout = section["http_timeout"]
    if section["kind"] == "docker":
        # a Swarm service is always removed when its server stops (check_swarm says so)
        c.DockerSpawner.remove = section["remove_on_stop"]
    c.DockerSpawner.pull_policy = section["pull_policy"]


def apply_workspace(section, c):
    c.ProfileSpawnerMixin.workspace_directory = section["directory"]
    c.ProfileSpawnerMixin.workspace_projects = [
        {"project": p["path"], "groups": [entry_key(g) for g in p["groups"]], "ref": p["ref"]}
        for p in section["projects"]
    ]


def review_policy(section, allowed_packages=None):
    """The dict the spawner hands to the container (as JSON) for the review extension.
    ``allowed_packages``: the allow-list with the lock file's packages (loader.allowed_packages)."""
    if allowed_packages is None and section["allowed_packages"] is not None:
        allowed_packages = list(section["allowed_packages"])
    return {
        "commit_notebooks": section["commit_notebooks"],
        "branch_prefix": section["branch_prefix"],
        "target_branch": section["target_branch"],
        "max_file_size": parse_size(section["max_file_size"]),
        "max_submission_size": parse_size(section["max_submission_size"]),
        "secret_patterns": list(section["secret_patterns"]),
        "allowed_packages": allowed_packages,
    }


def apply_review(section, c, *, allowed_packages=None):
    c.ProfileSpawnerMixin.review_policy = review_policy(section, allowed_packages)


def promotion_settings(
    section,
    profiles,
    metrics_enabled,
    gitlab_url=None,
    allowed_packages=None,
    metrics_require_auth=True,
    package_policy=None,
):
    """The JSON the promotion service reads: the section with each project's profile limits
    resolved and the GitLab URL, so the service never reads the admin YAML. The review
    package allow-list, when there is one, is also what a promotion's clean run allows
    notebooks to import; ``package_policy`` (the packages: section, compiled) is what the
    clean run's image must meet, as `jupyterhub-ds packages check` checks it."""
    by_slug = {p["slug"]: p for p in profiles}
    projects = []
    for project in section["projects"]:
        profile = by_slug.get(project["profile"])
        limits = {k: profile[k] for k in ("cpu_limit", "mem_limit", "pids_limit", "gpus")} if profile else {}
        extra = {"allowed_packages": list(allowed_packages)} if allowed_packages is not None else {}
        if package_policy is not None:
            extra["package_policy"] = package_policy
        projects.append({**extra, **project, "limits": limits})
    settings = {
        **section,
        "projects": projects,
        "metrics_enabled": metrics_enabled,
        "metrics_require_auth": metrics_require_auth,
    }
    if gitlab_url:
        settings["gitlab_url"] = gitlab_url.rstrip("/")
    return settings


def apply_promotion(
    section,
    c,
    *,
    profiles,
    metrics_enabled,
    gitlab_url=None,
    allowed_packages=None,
    gitlab_token=None,
    db_password=None,
    metrics_require_auth=True,
    audit_path=None,
    package_policy=None,
):
    if not section["projects"]:
        return
    settings = promotion_settings(
        section, profiles, metrics_enabled, gitlab_url, allowed_packages, metrics_require_auth, package_policy
    )
    environment = {PROMOTION_CONFIG_ENV: json.dumps(settings, sort_keys=True)}
    if gitlab_token:
        environment["JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN"] = gitlab_token
    if db_password:
        environment["JUPYTERHUB_DS_PROMOTION_DB_PASSWORD"] = db_password
    if audit_path:
        # the service appends its events to the hub's audit file (jupyterhub_ds.audit.sink)
        environment[AUDIT_PATH_ENV] = audit_path
    c.JupyterHub.services = [
        {
            "name": PROMOTION_SERVICE,
            "command": list(PROMOTION_COMMAND),
            "url": f"http://127.0.0.1:{section['port']}",
            "environment": environment,
            "display": True,
            "oauth_no_confirm": True,
        }
    ]
    # It talks to GitLab and Docker; from the hub it only needs to tell users' names and
    # groups apart (who may trigger a run or roll back).
    roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    # every user may open the service's pages (run history, read-only; actions are for admins)
    access = f"access:services!service={PROMOTION_SERVICE}"
    roles = [
        {**r, "scopes": [*r["scopes"], access]}
        if r.get("name") == USER_ROLE["name"] and access not in r["scopes"]
        else r
        for r in roles
    ]
    c.JupyterHub.load_roles = roles + [
        {
            "name": "jupyterhub-ds-promotion",
            "description": "The promotion service: read user names and group membership",
            "scopes": ["read:users:name", "read:users:groups", "read:groups:name"],
            "services": [PROMOTION_SERVICE],
        }
    ]


def apply_metrics(section, c):
    c.JupyterHub.authenticate_prometheus = section["require_auth"] or not section["enabled"]


def apply_audit(section, c, *, path=None):
    """``path``: ``audit.path`` made absolute (loader.audit_path); None: no audit file. The hub
    registers the schemas, the sink and the server events endpoint itself
    (jupyterhub_ds.audit.hub.install, from DSGitLabOAuthenticator.get_handlers)."""
    c.AuditTrail.path = path or ""
