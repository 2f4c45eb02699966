"""The one way jupyterhub-ds makes a python-gitlab client (the review extension's merge
requests, the promotion service's tags and notes).

A token from the hub's OAuth login goes as ``Authorization: Bearer``; a personal, project or
group access token (``glpat-…``) as ``PRIVATE-TOKEN``, which is how GitLab accepts each.
"""

from __future__ import annotations

import functools

# python-gitlab retries a transient error (no connection, a timeout, 5xx, 429) up to 10 times per
# request, sleeping 0.1 * 2**n s between tries (102 s in all) or what a 429's Retry-After says;
# the count is an argument of each request only, so the client below sets its default.
MAX_RETRIES = 3


@functools.cache
def _client_class():
    import gitlab

    class Gitlab(gitlab.Gitlab):
        """``gitlab.Gitlab`` whose requests retry at most :data:`MAX_RETRIES` times."""

        def http_request(self, *args, max_retries=MAX_RETRIES, **kwargs):
            return super().http_request(*args, max_retries=max_retries, **kwargs)

    return Gitlab


def client(url: str, token: str, *, timeout: float, retry_transient_errors: bool = False):
    """A ``gitlab.Gitlab`` for ``url`` with ``token``. ``retry_transient_errors``: retry 5xx
    answers and lost connections, MAX_RETRIES times (a background service may wait; a user
    waiting on a submit is better told)."""
    credential = {"private_token": token} if token.startswith("glpat-") else {"oauth_token": token}
    return _client_class()(url, timeout=timeout, retry_transient_errors=retry_transient_errors, **credential)
