"""The one way jupyterhub-ds makes a python-gitlab client (the review extension's merge
requests, the promotion service's tags and notes).

A token from the hub's OAuth login goes as ``Authorization: Bearer``; a personal, project or
group access token (``glpat-…``) as ``PRIVATE-TOKEN``, which is how GitLab accepts each.
"""

from __future__ import annotations


def client(url: str, token: str, *, timeout: float, retry_transient_errors: bool = False):
    """A ``gitlab.Gitlab`` for ``url`` with ``token``. ``retry_transient_errors``: retry 5xx
    answers (a background service may wait; a user waiting on a submit is better told)."""
    import gitlab

    credential = {"private_token": token} if token.startswith("glpat-") else {"oauth_token": token}
    return gitlab.Gitlab(url, timeout=timeout, retry_transient_errors=retry_transient_errors, **credential)
