"""Good admin YAML files -> the traitlets Config the hub gets (values a later component reads)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyterhub_ds.config import check_file, load_config
from jupyterhub_ds.image_inputs import lock_packages

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "hub_config" / "jupyterhub_ds.yaml"
DEMO = ROOT / "hub_config" / "demo.yaml"
MINIMAL = Path(__file__).parent / "config_cases" / "good" / "minimal.yaml"
ENV = {
    "GITLAB_CLIENT_SECRET": "oauth-app-secret",
    "JUPYTERHUB_CRYPT_KEY": "ab" * 32,
    "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "promotion-bot-token",
}
G = 1024**3


@pytest.mark.parametrize("path", [EXAMPLE, DEMO, MINIMAL], ids=["example", "demo", "minimal"])
def test_good_files_have_no_problems_even_with_env(path):
    lines, config = check_file(path)
    assert lines == [] and config["profiles"]
    assert check_file(path, env=ENV)[0] == []


def test_cli_accepts_the_commented_example():
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/jupyterhub-ds"), "check-config", "hub_config/jupyterhub_ds.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "OK: hub_config/jupyterhub_ds.yaml (3 profiles, 2 promotion lanes)"


def test_demo_profiles_are_normalized():
    c = load_config(DEMO, ENV)
    assert c.ProfileSpawnerMixin.profiles == [
        {
            "slug": "small",
            "display_name": "Small (2 CPU, 2 GB)",
            "description": "For everyday analysis",
            "default": True,
            "images": ["jupyterhub-ds/singleuser-scipy:latest"],
            "cpu_limit": 2.0,
            "mem_limit": 2 * G,
            "cpu_guarantee": None,
            "mem_guarantee": None,
            "pids_limit": None,
            "gpus": 0,
            "volumes": {},
            "environment": {},
            "allowed_groups": ["data-science/analysts", "data-science/power-users"],
            "idle_timeout": None,
            "placement": [],
        },
        {
            "slug": "large",
            "display_name": "Large (16 CPU, 64 GB)",
            "description": "For big data sets and training",
            "default": False,
            "images": ["jupyterhub-ds/singleuser-scipy:latest", "jupyterhub-ds/singleuser:latest"],
            "cpu_limit": 16.0,
            "mem_limit": 64 * G,
            "cpu_guarantee": None,
            "mem_guarantee": None,
            "pids_limit": None,
            "gpus": 0,
            "volumes": {},
            "environment": {},
            "allowed_groups": ["data-science/power-users"],
            "idle_timeout": None,
            "placement": [],
        },
        {
            "slug": "gpu",
            "display_name": "GPU",
            "description": "One GPU for deep learning",
            "default": False,
            "images": ["jupyterhub-ds/singleuser-scipy:latest"],
            "cpu_limit": 8.0,
            "mem_limit": 32 * G,
            "cpu_guarantee": None,
            "mem_guarantee": None,
            "pids_limit": None,
            "gpus": 1,
            "volumes": {},
            "environment": {},
            "allowed_groups": ["ml-gpu"],
            "idle_timeout": None,
            "placement": [],
        },
    ]


def test_demo_authenticator_and_hub_settings():
    c = load_config(DEMO, ENV)
    assert c.JupyterHub.authenticator_class == "ds-gitlab"
    assert c.JupyterHub.spawner_class == "ds-docker"
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/"
    assert c.JupyterHub.db_url == "sqlite:///jupyterhub.sqlite"
    g = c.GitLabOAuthenticator
    assert g.gitlab_url == "http://172.17.0.1:8929"
    assert g.client_id == "jupyterhub-ds-demo"
    assert g.client_secret == "oauth-app-secret"  # from the environment, never the YAML
    assert g.oauth_callback_url == "http://localhost:8000/hub/oauth_callback"
    assert c.JupyterHub.subdomain_host == "http://localhost:8000"  # each user on their own origin
    assert g.scope == ["read_user", "api", "read_repository", "write_repository"]
    assert g.enable_pkce is True
    # oauthenticator's own group check (members/all of the group itself) stays off: our rules decide
    assert "allowed_gitlab_groups" not in g
    assert c.DSGitLabOAuthenticator.allowed_group_rules == {
        "data-science/analysts",
        "data-science/power-users",
        "ml-gpu",
    }
    assert g.allow_all is False
    assert g.manage_groups is True
    assert c.Authenticator.enable_auth_state is True
    assert c.Authenticator.auth_refresh_age == 300
    assert g.admin_groups == {"data-science/admins"}
    # hub groups are made of the rules that grant something: admin, profiles, workspace projects
    # (data-science: the namespace of the promoted project, whose run history its people see)
    assert c.DSGitLabOAuthenticator.privilege_group_rules == {
        "data-science",
        "data-science/admins",
        "data-science/analysts",
        "data-science/power-users",
        "ml-gpu",
    }
    assert c.DSGitLabOAuthenticator.stop_server_on_revoke is True
    # servers get their user's GitLab token alone, never auth_state (the refresh token)
    scope = "custom:jupyterhub-ds:gitlab-token"
    events = "custom:jupyterhub-ds:audit"  # and report their user's review events to the audit trail
    assert {
        "name": "user",
        "scopes": ["self", f"{scope}!user", f"{events}!user", "access:services!service=promotion"],
    } in c.JupyterHub.load_roles
    assert scope in c.JupyterHub.custom_scopes and events in c.JupyterHub.custom_scopes
    assert not any("auth_state" in s for r in c.JupyterHub.load_roles for s in r["scopes"])
    assert [s["name"] for s in c.JupyterHub.services] == ["promotion"]  # flow 3 in the demo too


def test_demo_shared_data_is_read_only_by_default():
    c = load_config(DEMO, ENV)
    assert c.ProfileSpawnerMixin.shared_mounts == [
        {"source": "/srv/jupyterhub-ds/shared", "target": "/home/jovyan/shared", "mode": "ro"}
    ]
    assert c.ProfileSpawnerMixin.home_volume_template == "jupyterhub-ds-demo-home-{username}"
    assert c.ProfileSpawnerMixin.home_mount == "/home/jovyan"
    assert c.DockerSpawner.image == "jupyterhub-ds/singleuser-scipy:latest"


def test_example_sizes_images_volumes_and_environment():
    profiles = {p["slug"]: p for p in load_config(EXAMPLE, ENV).ProfileSpawnerMixin.profiles}
    assert profiles["small"]["mem_guarantee"] == 512 * 1024**2
    assert profiles["small"]["cpu_guarantee"] == 0.5
    assert profiles["small"]["pids_limit"] == 1024
    assert profiles["small"]["idle_timeout"] == 3600
    assert profiles["small"]["environment"] == {"OMP_NUM_THREADS": "2"}
    assert profiles["large"]["images"] == [
        "jupyterhub-ds/singleuser-scipy:latest",
        "jupyterhub-ds/singleuser-spark:latest",
    ]
    assert profiles["gpu"]["mem_limit"] == 32 * G  # 32Gi
    assert profiles["gpu"]["volumes"] == {"/srv/models": {"bind": "/home/jovyan/models", "mode": "ro"}}
    assert [p["default"] for p in profiles.values()] == [True, False, False]


def test_example_spawner_network_workspace_review_metrics():
    c = load_config(EXAMPLE, ENV)
    assert c.JupyterHub.public_url == "https://hub.example.com/"
    # users on their own origins; the hub API on the user network's gateway, not on every address
    assert c.JupyterHub.subdomain_host == "https://hub.example.com"
    assert c.JupyterHub.cookie_host_prefix_enabled is True
    assert c.JupyterHub.hub_bind_url == "http://172.30.0.1:8081"
    assert c.JupyterHub.hub_connect_ip == "172.30.0.1"
    assert c.GitLabOAuthenticator.admin_users == set()
    assert c.GitLabOAuthenticator.admin_groups == {"data-science/admins", "platform:owner"}
    # the hardening section, every key at its safe default
    m = c.ProfileSpawnerMixin
    assert (
        m.run_as_user,
        m.no_new_privileges,
        m.cap_add,
        m.default_pids_limit,
        m.allow_swap,
        m.read_only_rootfs,
        m.runtime,
    ) == ("1000", True, [], 1024, False, False, "")
    assert c.DockerSpawner.network_name == "jupyterhub-ds"
    assert c.ProfileSpawnerMixin.isolate_containers is True
    assert (c.DockerSpawner.start_timeout, c.DockerSpawner.http_timeout) == (120, 60)
    assert c.DockerSpawner.remove is True
    assert c.DockerSpawner.pull_policy == "ifnotpresent"
    assert c.ProfileSpawnerMixin.workspace_directory == "projects"
    assert c.ProfileSpawnerMixin.workspace_projects == [
        {"project": "data-science/churn-model", "groups": ["data-science"], "ref": None},
        {"project": "ml/vision", "groups": ["ml-gpu"], "ref": "main"},
    ]
    assert c.ProfileSpawnerMixin.review_policy == {
        "commit_notebooks": False,
        "branch_prefix": "review",
        "target_branch": "main",
        "max_file_size": 10 * 1024**2,
        "max_submission_size": 50 * 1024**2,
        "secret_patterns": ["corp-[0-9a-f]{32}"],
        # allowed_packages_lock: what the data-science image's lock pins
        "allowed_packages": lock_packages(ROOT / "images" / "scipy" / "requirements.lock"),
    }
    assert {"numpy", "pandas", "scikit-learn", "matplotlib", "seaborn"} <= set(
        c.ProfileSpawnerMixin.review_policy["allowed_packages"]
    )
    assert c.JupyterHub.authenticate_prometheus is True


def test_example_promotion_service_and_role():
    c = load_config(EXAMPLE, ENV)
    [service] = c.JupyterHub.services
    assert service["name"] == "promotion"
    assert service["command"] == [sys.executable, "-m", "jupyterhub_ds.promotion"]
    assert service["url"] == "http://127.0.0.1:10101"
    assert service["environment"]["JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN"] == "promotion-bot-token"
    settings = json.loads(service["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"])
    assert settings["timezone"] == "Europe/Berlin"
    [project] = settings["projects"]
    assert project["path"] == "data-science/churn-model"
    assert project["image"] == "jupyterhub-ds/singleuser-scipy:1.0"
    assert project["volumes"] == [{"source": "/srv/jupyterhub-ds/shared", "target": "/home/jovyan/shared"}]
    assert project["limits"] == {"cpu_limit": 16.0, "mem_limit": 64 * G, "pids_limit": None, "gpus": 0}
    assert project["seed"] == 42 and project["network"] is False
    # the service gets GitLab's URL and the review package allow-list from the same file
    assert settings["gitlab_url"] == "https://gitlab.example.com"
    assert project["allowed_packages"] == lock_packages(ROOT / "images" / "scipy" / "requirements.lock")
    assert [(lane["from"], lane["to"], lane["schedule"]) for lane in project["lanes"]] == [
        ("main", "staging", "0 2 * * *"),
        ("staging", "production", "0 4 * * 1"),
    ]
    assert "promotion-bot-token" not in service["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"]
    role = next(r for r in c.JupyterHub.load_roles if r.get("services") == ["promotion"])
    assert role["scopes"] == ["read:users:name", "read:users:groups", "read:groups:name"]
    # every user may open the service's pages (the history; actions are admin-only there)
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert user_role["scopes"] == [
        "self",
        "custom:jupyterhub-ds:gitlab-token!user",
        "custom:jupyterhub-ds:audit!user",
        "access:services!service=promotion",
    ]


def test_minimal_file_gets_documented_defaults():
    c = load_config(MINIMAL, ENV)
    [profile] = c.ProfileSpawnerMixin.profiles
    assert profile["slug"] == profile["display_name"] == "standard"
    assert profile["images"] == ["jupyterhub-ds/singleuser:latest"]
    assert profile["mem_limit"] is None and profile["gpus"] == 0 and profile["allowed_groups"] == []
    assert c.JupyterHub.bind_url == "http://0.0.0.0:8000/"
    assert c.GitLabOAuthenticator.oauth_callback_url == "http://localhost:8000/hub/oauth_callback"
    assert c.JupyterHub.spawner_class == "ds-docker"
    assert c.ProfileSpawnerMixin.shared_mounts == []
    assert c.ProfileSpawnerMixin.review_policy["commit_notebooks"] is False


def test_secrets_come_from_the_environment_only(tmp_path):
    text = MINIMAL.read_text() + "hub:\n  db_url: postgresql://hub@db.example.com/jupyterhub\n"
    path = tmp_path / "pg.yaml"
    path.write_text(text)
    c = load_config(path, {**ENV, "JUPYTERHUB_DB_PASSWORD": "p@ss/word"})
    assert c.JupyterHub.db_url == "postgresql://hub:p%40ss%2Fword@db.example.com/jupyterhub"
    assert check_file(path, env=ENV)[0] == [
        f"{path}: env JUPYTERHUB_DB_PASSWORD: not set; export JUPYTERHUB_DB_PASSWORD "
        "(the password of the database user in hub.db_url)"
    ]


def test_swarm_kind_and_base_url(tmp_path):
    path = tmp_path / "swarm.yaml"
    path.write_text(
        MINIMAL.read_text()
        + "spawner:\n  kind: swarm\nhub:\n  public_url: https://ds.example.com/jupyter/\n  base_url: /jupyter/\n"
        # what Swarm cannot enforce must be said (check_swarm)
        + "  bind: http://127.0.0.1:8123\nmetrics:\n  require_auth: false\n"
        + "hardening:\n  allow_swap: true\nnetwork:\n  containers_can_talk: true\n"
    )
    c = load_config(path, ENV)
    assert c.JupyterHub.spawner_class == "ds-swarm"
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123/jupyter/"
    assert c.GitLabOAuthenticator.oauth_callback_url == "https://ds.example.com/jupyter/hub/oauth_callback"
    assert c.JupyterHub.authenticate_prometheus is False


def test_the_demo_file_runs_on_swarm_with_what_swarm_cannot_enforce_said(tmp_path):
    """The demo's policy (groups, profiles, workspace, review, promotion) moves to a swarm by
    changing spawner.kind, plus the choices Swarm forces, which check-config names."""
    import yaml

    from jupyterhub_ds.config.loader import unsafe_lines

    data = yaml.safe_load(DEMO.read_text())
    data["review"]["allowed_packages_lock"] = str(DEMO.parent / data["review"]["allowed_packages_lock"])
    data["spawner"] = {"kind": "swarm", "pull_policy": "ifnotpresent"}  # the nodes pull from a registry
    data["hardening"] = {"allow_swap": True}
    data["network"]["containers_can_talk"] = True
    path = tmp_path / "demo-swarm.yaml"
    path.write_text(yaml.safe_dump(data))
    lines, config = check_file(path, env=ENV)
    assert lines == []
    named = sorted(line.split(": ", 2)[1] for line in unsafe_lines(path, config))
    assert named == ["hardening.allow_swap", "network.containers_can_talk"]
    c, demo = load_config(path, ENV), load_config(DEMO, ENV)
    assert (c.JupyterHub.spawner_class, demo.JupyterHub.spawner_class) == ("ds-swarm", "ds-docker")
    assert c.ProfileSpawnerMixin.profiles == demo.ProfileSpawnerMixin.profiles
    assert c.ProfileSpawnerMixin.workspace_projects == demo.ProfileSpawnerMixin.workspace_projects

    def lanes(config):
        [service] = config.JupyterHub.services
        settings = json.loads(service["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"])
        return [(p["path"], p["image"], p["lanes"]) for p in settings["projects"]]

    assert lanes(c) == lanes(demo) != []
