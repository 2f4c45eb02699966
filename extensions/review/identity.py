"""Who commits and which token talks to GitLab: the hub-backed defaults of the pluggable sources.

Both come from one hub endpoint, ``/hub/api/jupyterhub-ds/users/:name/gitlab-token``
(``credential.fetch_credentials``): a short-lived GitLab access token and the GitLab user's
name and commit email. Neither is ever written to disk or logged.
"""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import urlsplit

from . import credential

IDENTITY_TTL = 300.0  # seconds a commit identity is reused (a token is asked for every time)
_identity_cache: dict = {}
_identity_lock = threading.Lock()


def hub_env(environ=None) -> tuple[str, str, str]:
    env = os.environ if environ is None else environ
    try:
        return env["JUPYTERHUB_API_URL"], env["JUPYTERHUB_API_TOKEN"], env["JUPYTERHUB_USER"]
    except KeyError as e:
        raise LookupError(
            f"{e.args[0]} is not set; the review extension must run in a JupyterHub server "
            "(or configure ReviewConfig.token_source / identity_source)"
        ) from None


def _fetch() -> dict:
    answer = credential.fetch_credentials(*hub_env())
    with _identity_lock:
        _identity_cache["identity"] = (time.monotonic(), answer)
    return answer


def hub_token() -> str:
    """Default ``ReviewConfig.token_source``: the owner's fresh GitLab token from the hub."""
    return _fetch()["access_token"]


def hub_identity() -> dict:
    """Default ``ReviewConfig.identity_source``: {"username", "name", "email"} of the GitLab user."""
    with _identity_lock:
        when, answer = _identity_cache.get("identity", (0.0, None))
    if answer is None or time.monotonic() - when > IDENTITY_TTL:
        answer = _fetch()
    user = hub_env()[2]
    return identity_from(user, answer, os.environ.get("JUPYTERHUB_DS_GITLAB_URL", ""))


def identity_from(hub_user: str, gitlab_user: dict, gitlab_url: str = "") -> dict:
    """Pure: name/email for commits, with GitLab's no-reply address when the email is private."""
    username = gitlab_user.get("username") or hub_user
    email = gitlab_user.get("commit_email") or gitlab_user.get("email") or gitlab_user.get("public_email")
    if not email:
        host = urlsplit(gitlab_url).hostname or "gitlab.invalid"
        email = f"{username}@noreply.{host}"
    return {"username": username, "name": gitlab_user.get("name") or username, "email": email}
