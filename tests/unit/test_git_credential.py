"""The git credential helper's protocol handling (the hub round trip is an integration test)."""

import io

import pytest

from jupyterhub_ds.review import credential

pytestmark = pytest.mark.unit


def test_parse_request_stops_at_blank_line():
    text = "protocol=http\nhost=127.0.0.1:8929\npath=ds/analytics.git\n\nignored=1\n"
    assert credential.parse_request(text) == {"protocol": "http", "host": "127.0.0.1:8929", "path": "ds/analytics.git"}


@pytest.mark.parametrize(
    "attrs, url, expected",
    [
        ({"protocol": "https", "host": "gitlab.example.com"}, "https://gitlab.example.com", True),
        ({"protocol": "http", "host": "172.17.0.1:8929"}, "http://172.17.0.1:8929/", True),
        ({"protocol": "https", "host": "github.com"}, "https://gitlab.example.com", False),
        ({"protocol": "http", "host": "gitlab.example.com"}, "https://gitlab.example.com", False),
        ({"protocol": "https", "host": "gitlab.example.com"}, "", False),
    ],
)
def test_answers_only_for_the_configured_gitlab(attrs, url, expected):
    assert credential.matches_gitlab(attrs, url) is expected


def test_other_hosts_get_no_answer_and_no_hub_call():
    out = io.StringIO()
    env = {"JUPYTERHUB_DS_GITLAB_URL": "https://gitlab.example.com"}  # no hub variables: must not be needed
    rc = credential.main(["get"], stdin=io.StringIO("protocol=https\nhost=github.com\n\n"), stdout=out, environ=env)
    assert (rc, out.getvalue()) == (0, "")


def test_store_and_erase_do_nothing():
    out = io.StringIO()
    assert credential.main(["store"], stdin=io.StringIO("password=x\n\n"), stdout=out, environ={}) == 0
    assert out.getvalue() == ""


def test_missing_hub_environment_is_a_clear_error(capsys):
    env = {"JUPYTERHUB_DS_GITLAB_URL": "https://gitlab.example.com"}
    rc = credential.main(
        ["get"], stdin=io.StringIO("protocol=https\nhost=gitlab.example.com\n\n"), stdout=io.StringIO(), environ=env
    )
    assert rc == 1
    assert "JUPYTERHUB_API_URL is not set" in capsys.readouterr().err
