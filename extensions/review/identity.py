"""Who commits and which token talks to GitLab: the hub-backed defaults of the pluggable sources.

The GitLab token comes from ``credential.fetch_token`` (the same call the git credential
helper makes). The committer is the GitLab user the hub stored in ``auth_state["gitlab_user"]``
(name, email), read from the same hub API model. Neither is ever written to disk or logged.
"""

from __future__ import annotations

import json
import os
import urllib.request
from urllib.parse import quote, urlsplit

from . import credential


def hub_env(environ=None) -> tuple[str, str, str]:
    env = os.environ if environ is None else environ
    try:
        return env["JUPYTERHUB_API_URL"], env["JUPYTERHUB_API_TOKEN"], env["JUPYTERHUB_USER"]
    except KeyError as e:
        raise LookupError(f"{e.args[0]} is not set; the review extension must run in a JupyterHub server "
                          "(or configure ReviewConfig.token_source / identity_source)") from None


def hub_token() -> str:
    """Default ``ReviewConfig.token_source``: the owner's fresh GitLab token from the hub."""
    return credential.fetch_token(*hub_env())


def hub_identity() -> dict:
    """Default ``ReviewConfig.identity_source``: {"username", "name", "email"} of the GitLab user."""
    api_url, api_token, user = hub_env()
    req = urllib.request.Request(f"{api_url.rstrip('/')}/users/{quote(user, safe='')}",
                                 headers={"Authorization": f"token {api_token}", "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        model = json.load(resp)
    gitlab_user = (model.get("auth_state") or {}).get("gitlab_user") or {}
    return identity_from(user, gitlab_user, os.environ.get("JUPYTERHUB_DS_GITLAB_URL", ""))


def identity_from(hub_user: str, gitlab_user: dict, gitlab_url: str = "") -> dict:
    """Pure: name/email for commits, with GitLab's no-reply address when the email is private."""
    username = gitlab_user.get("username") or hub_user
    email = gitlab_user.get("commit_email") or gitlab_user.get("email") or gitlab_user.get("public_email")
    if not email:
        host = urlsplit(gitlab_url).hostname or "gitlab.invalid"
        email = f"{username}@noreply.{host}"
    return {"username": username, "name": gitlab_user.get("name") or username, "email": email}
