"""The per-section apply_* functions are pure: plain dicts in, traitlets Config out."""

import json

import pytest
from traitlets.config import Config

from jupyterhub_ds.config import apply as A
from jupyterhub_ds.config.schema import with_defaults

pytestmark = pytest.mark.unit


def defaults(**sections):
    base = {"gitlab": {"url": "https://gitlab.example.com", "client_id": "id"}, "profiles": [{"slug": "s"}]}
    return with_defaults({**base, **sections})


def test_network_isolation_follows_containers_can_talk():
    for can_talk, isolate in [(False, True), (True, False)]:
        c = Config()
        A.apply_network({"name": "lab-net", "containers_can_talk": can_talk, "encrypted": False}, c)
        assert c.DockerSpawner.network_name == "lab-net"
        assert c.ProfileSpawnerMixin.isolate_containers is isolate
        assert c.ProfileSwarmSpawner.encrypt_network is False


def test_swarm_kind_picks_ds_swarm_and_encrypts_the_overlay_when_asked():
    config = defaults(spawner={"kind": "swarm"}, network={"encrypted": True})
    c = Config()
    A.apply_spawner(config["spawner"], c)
    A.apply_network(config["network"], c)
    assert c.JupyterHub.spawner_class == "ds-swarm"
    assert c.ProfileSwarmSpawner.encrypt_network is True


def test_no_promotion_projects_means_no_service_and_no_role():
    c = Config()
    A.apply_promotion(defaults()["promotion"], c, profiles=[], metrics_enabled=True)
    assert "services" not in c.JupyterHub and "load_roles" not in c.JupyterHub


def test_promotion_role_is_added_to_existing_roles_and_settings_carry_limits():
    config = defaults(
        promotion={
            "port": 12345,
            "projects": [
                {
                    "path": "a/b",
                    "image": "img:1",
                    "profile": "s",
                    "notebooks": ["n.ipynb"],
                    "lanes": [{"from": "main", "to": "prod", "schedule": "0 1 * * *"}],
                }
            ],
        }
    )
    c = Config()
    A.apply_auth(config["auth"], c)
    profiles = [{"slug": "s", "cpu_limit": 1.0, "mem_limit": 1024, "pids_limit": 50, "gpus": 0}]
    A.apply_promotion(config["promotion"], c, profiles=profiles, metrics_enabled=False, db_password="pw")
    assert [r["name"] for r in c.JupyterHub.load_roles] == ["user", "jupyterhub-ds-promotion"]
    [service] = c.JupyterHub.services
    assert service["url"] == "http://127.0.0.1:12345"
    assert service["environment"]["JUPYTERHUB_DS_PROMOTION_DB_PASSWORD"] == "pw"
    settings = json.loads(service["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"])
    assert settings["metrics_enabled"] is False
    assert settings["projects"][0]["limits"] == {"cpu_limit": 1.0, "mem_limit": 1024, "pids_limit": 50, "gpus": 0}
    assert settings["projects"][0]["lanes"][0]["paused"] is False  # defaults filled
    assert "pw" not in service["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"]


@pytest.mark.parametrize(
    "enabled, require_auth, authenticate",
    [(True, True, True), (True, False, False), (False, False, True), (False, True, True)],
)
def test_metrics(enabled, require_auth, authenticate):
    c = Config()
    A.apply_metrics({"enabled": enabled, "require_auth": require_auth}, c)
    assert c.JupyterHub.authenticate_prometheus is authenticate


def test_gitlab_ca_bundle_and_api_url():
    section = defaults(
        gitlab={
            "url": "https://gitlab.example.com/",
            "client_id": "id",
            "ca_bundle": "/etc/ssl/ca.pem",
            "api_url": "https://api.gitlab.example.com/api/v4/",
        }
    )["gitlab"]
    c = Config()
    A.apply_gitlab(section, c, client_secret="s", callback_url="https://hub/hub/oauth_callback")
    assert c.GitLabOAuthenticator.gitlab_url == "https://gitlab.example.com"
    assert c.GitLabOAuthenticator.gitlab_api == "https://api.gitlab.example.com/api/v4"
    assert c.GitLabOAuthenticator.http_request_kwargs == {"ca_certs": "/etc/ssl/ca.pem"}


@pytest.mark.parametrize(
    "url, password, expected",
    [
        ("sqlite:///jupyterhub.sqlite", "pw", "sqlite:///jupyterhub.sqlite"),
        ("postgresql://hub@db/jh", None, "postgresql://hub@db/jh"),
        ("postgresql://hub@db:5432/jh", "a:b@c", "postgresql://hub:a%3Ab%40c@db:5432/jh"),
    ],
)
def test_db_password_is_inserted_quoted(url, password, expected):
    assert A.with_password(url, password) == expected
