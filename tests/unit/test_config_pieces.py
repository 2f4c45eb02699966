"""The admin config's small parts: sizes, the schema as documentation, secret detection,
and hub_config/jupyterhub_config.py as traitlets loads it (with the .d escape hatch)."""

from pathlib import Path

import jsonschema
import pytest
from traitlets.config.loader import PyFileConfigLoader

from jupyterhub_ds.config import parse_size
from jupyterhub_ds.config.schema import SCHEMA, resolve
from jupyterhub_ds.config.secrets import is_secret_key
from jupyterhub_ds.hub_db import WALConnection, sqlite_wal_db_kwargs
from jupyterhub_ds.sizes import format_size

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
G, M = 1024**3, 1024**2


@pytest.mark.parametrize(
    "text, expected",
    [
        (1024, 1024),
        ("512M", 512 * M),
        ("2G", 2 * G),
        ("2Gi", 2 * G),
        ("2GiB", 2 * G),
        ("1.5G", int(1.5 * G)),
        ("64g", 64 * G),
        ("100K", 102400),
        ("1T", 1024**4),
        ("300", 300),
        ("16 G", 16 * G),
        (None, None),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["16 gigs", "G", "-1G", "2X", "", "1.G", 0, True, "2iG"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="is not a size like 16G"):
        parse_size(text)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _objects(schema, where="schema"):
    """Every object schema reachable from ``schema`` (following local refs once)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from _objects(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _objects(value, f"{where}[{i}]")


def test_every_object_refuses_unknown_keys_and_every_property_is_documented():
    objects = list(_objects(SCHEMA))
    assert len(objects) >= 15
    for where, obj in objects:
        assert obj.get("additionalProperties") is False, where
        for name, prop in obj["properties"].items():
            assert resolve(prop).get("description"), f"{where}.properties.{name} has no description"


@pytest.mark.parametrize(
    "key, secret",
    [
        ("client_secret", True),
        ("crypt_key", True),
        ("api_token", True),
        ("token", True),
        ("password", True),
        ("db_password", True),
        ("private_key", True),
        ("API_KEY", True),
        ("secret", True),
        ("secret_patterns", False),
        ("client_id", False),
        ("require_auth", False),
        ("refresh_age", False),
    ],
)
def test_secret_looking_keys(key, secret):
    assert is_secret_key(key) is secret


def _load_hub_config(monkeypatch, yaml_path, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JUPYTERHUB_DS_CONFIG", str(yaml_path))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(ROOT / "hub_config")).load_config()


def test_jupyterhub_config_py_applies_yaml_then_escape_hatch(monkeypatch, tmp_path):
    yaml_path = tmp_path / "jupyterhub_ds.yaml"
    demo = (ROOT / "hub_config" / "demo.yaml").read_text()  # its package lock is relative to hub_config/
    yaml_path.write_text(
        demo.replace("../images/scipy/requirements.lock", str(ROOT / "images/scipy/requirements.lock"))
    )
    extra = tmp_path / "jupyterhub_config.d"
    extra.mkdir()
    (extra / "20-second.py").write_text("c.JupyterHub.log_level = c.JupyterHub.cookie_max_age_days\n")
    (extra / "10-first.py").write_text("c.JupyterHub.cookie_max_age_days = 3\nc.DockerSpawner.image = 'site/image:2'\n")
    env = {"GITLAB_CLIENT_SECRET": "s", "JUPYTERHUB_CRYPT_KEY": "ab" * 32, "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "t"}
    c = _load_hub_config(monkeypatch, yaml_path, env)
    assert c.GitLabOAuthenticator.client_secret == "s"
    assert len(c.ProfileSpawnerMixin.profiles) == 3
    assert c.DockerSpawner.image == "site/image:2"  # the escape hatch runs after the YAML
    assert c.JupyterHub.log_level == 3  # and in name order
    # the demo's SQLite hub database is used in write-ahead-log mode (the escape hatch may undo it)
    assert c.JupyterHub.db_kwargs["connect_args"] == {"check_same_thread": False, "factory": WALConnection}


def test_jupyterhub_config_py_refuses_with_the_check_config_lines(monkeypatch, tmp_path, capsys):
    bad = ROOT / "tests/unit/config_cases/bad/mem_limit_not_a_size.yaml"
    with pytest.raises(SystemExit) as info:
        _load_hub_config(monkeypatch, bad, {"GITLAB_CLIENT_SECRET": "s", "JUPYTERHUB_CRYPT_KEY": "ab" * 32})
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"{bad}:13: profiles[2].mem_limit: '16 gigs' is not a size like 16G\n" in err
    assert "refusing to start" in err


@pytest.mark.parametrize(
    "size, options, text",
    [
        (2 * 1024**3, {}, "2 GB"),  # the spawn form's profile summary
        (1536 * 1024**2, {}, "1.5 GB"),
        (1000 * 1024**2, {}, "1000 MB"),
        (5 * 1024**4, {}, "5 TB"),
        (512, {}, "512 B"),
        (1_213_456_789, {"decimal": True}, "1.21 GB"),  # image sizes, as `docker images` counts
        (100_000_000, {"decimal": True}, "100 MB"),
        (6000, {"decimals": 1, "bytes_unit": "bytes"}, "5.9 KB"),  # the review's size messages
        (10, {"decimals": 1, "bytes_unit": "bytes"}, "10 bytes"),
    ],
)
def test_format_size_is_the_one_formatter(size, options, text):
    assert format_size(size, **options) == text


@pytest.mark.parametrize(
    "review_runs, named",
    [
        (True, "may reach the network, and its review runs too: any Developer's notebook, before anyone reviewed it"),
        (False, "the promotion runs of ds/churn may reach the network"),
    ],
)
def test_a_promotion_project_with_network_is_named_with_its_review_runs(tmp_path, review_runs, named):
    from jupyterhub_ds.config.loader import check_file, unsafe_lines

    path = tmp_path / "jupyterhub_ds.yaml"
    path.write_text(f"""gitlab: {{url: https://gitlab.example.com, client_id: abc}}
auth: {{allowed_groups: [ds]}}
profiles: [{{slug: small, cpu_limit: 1, mem_limit: 1G}}]
promotion:
  projects:
    - path: ds/churn
      image: jupyterhub-ds/singleuser:1.0
      notebooks: [a.ipynb]
      network: true
      review_runs: {str(review_runs).lower()}
      lanes: [{{from: main, to: staging, schedule: '0 2 * * *'}}]
""")
    problems, config = check_file(path)
    assert problems == []
    [line] = [u for u in unsafe_lines(path, config) if "network" in u]
    assert line.endswith(named)


@pytest.mark.parametrize(
    "url, kwargs, expected",
    [
        (
            "sqlite:///srv/jupyterhub.sqlite",
            {},
            {"connect_args": {"check_same_thread": False, "factory": WALConnection}},
        ),
        (
            "sqlite:///db.sqlite",
            {"connect_args": {"timeout": 30}, "pool_pre_ping": True},
            {
                "connect_args": {"check_same_thread": False, "timeout": 30, "factory": WALConnection},
                "pool_pre_ping": True,
            },
        ),
        ("sqlite:///:memory:", {}, {}),
        ("postgresql://hub@db/jupyterhub", {"pool_size": 5}, {"pool_size": 5}),
    ],
)
def test_a_sqlite_hub_database_gets_write_ahead_log_connections(url, kwargs, expected):
    assert sqlite_wal_db_kwargs(url, kwargs) == expected


def test_write_ahead_log_connections_commit_without_waiting_for_the_disk(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "hub.sqlite", factory=WALConnection)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    db.close()
