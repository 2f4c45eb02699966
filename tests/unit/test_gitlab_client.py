"""The one python-gitlab constructor: how each kind of token is presented to GitLab."""

import pytest

from jupyterhub_ds.gitlab_client import client

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "token, kind",
    [
        ("glpat-0123456789abcdef", "private_token"),  # personal/project/group access token: PRIVATE-TOKEN
        ("9f8e7d6c5b4a", "oauth_token"),  # an OAuth access token from the hub's login: Bearer
    ],
)
def test_token_kinds_go_in_their_own_header(token, kind):
    gl = client("https://gitlab.example.com/", token, timeout=7)
    assert (gl.private_token, gl.oauth_token) == ((token, None) if kind == "private_token" else (None, token))
    assert gl.timeout == 7 and gl.retry_transient_errors is False
    assert client("https://gitlab.example.com", token, timeout=7, retry_transient_errors=True).retry_transient_errors
