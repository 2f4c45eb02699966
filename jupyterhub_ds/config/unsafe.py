"""Unsafe choices in a valid admin YAML: allowed, because an admin may need them, but named.

The defaults are the safe choice. Each relaxation must be written in the file, and
``jupyterhub-ds check-config`` (and the hub, at start, in its log) names every one with what
it exposes, so that whoever answers for the hub sees them. Pure: config in, Problems out.
"""

from urllib.parse import urlsplit

from .problems import Problem

ANY_ADDRESS = ("0.0.0.0", "::", "[::]", "")


def _host(url):
    return urlsplit(url).hostname or ""


def _local(url):
    return _host(url) in ("localhost", "127.0.0.1", "::1") or _host(url).endswith(".localhost")


def unsafe_choices(config):
    found = []

    def name(path, message):
        found.append(Problem(tuple(path), f"unsafe: {message}"))

    hub = config["hub"]
    if not hub["subdomain_host"] and hub["public_url"].startswith("https://"):
        name(
            ("hub", "public_url"),
            "no hub.subdomain_host: every user's server shares the hub's origin, so a page one "
            "user serves from their server can script another user's JupyterLab and mint their hub token; set "
            "hub.subdomain_host to the public_url's origin (with a wildcard DNS name and certificate)",
        )
    if not hub["public_url"].startswith("https://") and not _local(hub["public_url"]):
        name(
            ("hub", "public_url"),
            "plain http on a network address: logins, cookies and tokens travel unencrypted; "
            "put TLS in front of the proxy and use an https public_url",
        )
    if hub["hub_bind_url"] and _host(hub["hub_bind_url"]) in ANY_ADDRESS:
        name(
            ("hub", "hub_bind_url"),
            "the hub API listens on every address of the host, so any network the host is "
            "on can reach it; bind the gateway address of the user containers' network instead",
        )
    auth = config["auth"]
    if auth["allow_all"]:
        name(("auth", "allow_all"), "every GitLab user may log in and start a container")
    if config["network"]["containers_can_talk"]:
        name(("network", "containers_can_talk"), "user containers can open connections to each other's servers")
    h = config["hardening"]
    if h["user"].split(":")[0] == "0":
        name(("hardening", "user"), "user servers run as root inside their containers")
    if not h["no_new_privileges"]:
        name(("hardening", "no_new_privileges"), "setuid programs in the image can gain privileges")
    if h["cap_add"]:
        name(("hardening", "cap_add"), f"user containers get back the capabilities {', '.join(h['cap_add'])}")
    if h["allow_swap"]:
        name(("hardening", "allow_swap"), "a container can use swap beyond its memory limit and slow the host down")
    for i, mount in enumerate(config["volumes"]["shared"]):
        if mount["mode"] == "rw":
            name(
                ("volumes", "shared", i, "mode"),
                f"every user can write {mount['target']}: one user can leave files "
                "(scripts, notebooks, git repositories) there for others to run",
            )
    for i, profile in enumerate(config["profiles"]):
        for k, mount in enumerate(profile["volumes"]):
            if mount["mode"] == "rw":
                name(
                    ("profiles", i, "volumes", k, "mode"),
                    f"everyone with profile {profile['slug']!r} can write "
                    f"{mount['target']}: one user can leave files there for others to run",
                )
    for i, project in enumerate(config["promotion"]["projects"]):
        if project["network"]:
            runs = (
                "its review runs too: any Developer's notebook, before anyone reviewed it"
                if project["review_runs"]
                else ""
            )
            name(
                ("promotion", "projects", i, "network"),
                f"the promotion runs of {project['path']} may reach the network{', and ' + runs if runs else ''}",
            )
    if not config["audit"]["path"]:
        name(
            ("audit", "path"),
            "no audit trail: logins, group and admin changes, spawns, submissions, promotions and admin "
            "actions are not recorded; set audit.path to a file the hub can write (e.g. "
            "/var/log/jupyterhub-ds/audit.jsonl)",
        )
    metrics = config["metrics"]
    if metrics["enabled"] and not metrics["require_auth"]:
        name(("metrics", "require_auth"), "anyone who reaches the hub can read its metrics (user names, activity)")
    return found
