"""Each admin-YAML feature lands at a Z2JH values path, or is reported with its YAML path.

Every row writes a small admin YAML, loads it through the project's loader (as the CLI
does) and exports it; ``MAPPED`` rows name the values path and what must be there,
``REPORTED`` rows the YAML path and the reason the report gives.
"""

import copy
from types import SimpleNamespace

import pytest
import yaml
from tornado import web

from jupyterhub_ds.config.loader import check_file
from jupyterhub_ds.config.problems import format_path
from jupyterhub_ds.export import z2jh_hub
from jupyterhub_ds.export.z2jh import export

pytestmark = pytest.mark.unit

BASE = {
    "gitlab": {"url": "https://gitlab.example.com", "client_id": "app-id"},
    "auth": {"allowed_groups": ["ds"]},
    "profiles": [{"slug": "s", "cpu_limit": 1, "cpu_guarantee": 0.5, "mem_limit": "1G", "mem_guarantee": "512M"}],
}
PROFILE = ("singleuser", "profileList", 0)
OVERRIDE = PROFILE + ("kubespawner_override",)
GITLAB = ("hub", "config", "GitLabOAuthenticator")
DS_AUTH = ("hub", "config", "DSGitLabOAuthenticator")
PROMOTED = {
    "path": "ds/model",
    "image": "reg.example.com/ds/nb:1.0",
    "notebooks": ["train.ipynb"],
    "lanes": [{"from": "main", "to": "production", "schedule": "0 3 * * *"}],
}


def load(tmp_path, changes):
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = value
    admin = tmp_path / "admin.yaml"
    admin.write_text(yaml.safe_dump(data), encoding="utf-8")
    lines, config = check_file(admin)
    assert lines == [], lines
    return config


def at(values, path):
    for part in path:
        values = values[part]
    return values


def reported(problems):
    return {format_path(p.path): p.message for p in problems}


MAPPED = [
    (
        {("hub", "public_url"): "https://jupyter.example.org/"},
        ("hub", "config", "JupyterHub", "public_url"),
        "https://jupyter.example.org/",
    ),
    (
        {("hub", "public_url"): "https://jupyter.example.org/"},
        GITLAB + ("oauth_callback_url",),
        "https://jupyter.example.org/hub/oauth_callback",
    ),
    (
        {("hub", "base_url"): "/jupyter/", ("hub", "public_url"): "https://example.org/jupyter/"},
        ("hub", "baseUrl"),
        "/jupyter/",
    ),
    (
        {("hub", "db_url"): "postgresql://hub@db.example.com/jupyterhub"},
        ("hub", "db"),
        {"type": "postgres", "url": "postgresql://hub@db.example.com/jupyterhub"},
    ),
    ({("hub", "db_url"): "sqlite:///jupyterhub.sqlite"}, ("hub", "db"), {"type": "sqlite-pvc"}),
    ({("hub", "admin_users"): ["alice"]}, GITLAB + ("admin_users",), ["alice"]),
    ({("gitlab", "url"): "https://git.example.org/"}, GITLAB + ("gitlab_url",), "https://git.example.org"),
    (
        {("gitlab", "url"): "https://git.example.org/"},
        ("singleuser", "extraEnv", "JUPYTERHUB_DS_GITLAB_URL"),
        "https://git.example.org",
    ),
    ({("gitlab", "client_id"): "other-app"}, GITLAB + ("client_id",), "other-app"),
    ({("gitlab", "scopes"): ["read_user", "read_api"]}, GITLAB + ("scope",), ["read_user", "read_api"]),
    ({("gitlab", "api_url"): "https://api.example.org/v4"}, GITLAB + ("gitlab_api",), "https://api.example.org/v4"),
    (
        {("gitlab", "callback_url"): "https://hub.example.org/hub/oauth_callback"},
        GITLAB + ("oauth_callback_url",),
        "https://hub.example.org/hub/oauth_callback",
    ),
    (
        {("gitlab", "ca_bundle"): "/etc/ssl/certs/corp.pem"},
        GITLAB + ("http_request_kwargs",),
        {"ca_certs": "/etc/ssl/certs/corp.pem"},
    ),
    (
        {("auth", "allowed_groups"): ["ds", {"group": "ml", "min_access_level": "developer"}]},
        DS_AUTH + ("allowed_group_rules",),
        ["ds", "ml:developer"],
    ),
    ({("auth", "allowed_project_ids"): [42]}, GITLAB + ("allowed_project_ids",), [42]),
    ({("auth", "allowed_groups"): [], ("auth", "allow_all"): True}, GITLAB + ("allow_all",), True),
    ({("auth", "admin_groups"): ["ds/admins"]}, GITLAB + ("admin_groups",), ["ds/admins"]),
    # the hub groups a user is put in: every group rule that grants something
    (
        {
            ("auth", "admin_groups"): ["ds/admins"],
            ("profiles", 0, "allowed_groups"): [{"group": "ds", "min_access_level": "maintainer"}],
        },
        DS_AUTH + ("privilege_group_rules",),
        ["ds/admins", "ds:maintainer"],
    ),
    ({("auth", "manage_groups"): False}, GITLAB + ("manage_groups",), False),
    ({("auth", "refresh_age"): 60}, ("hub", "config", "Authenticator", "auth_refresh_age"), 60),
    ({("auth", "stop_server_on_revoke"): False}, DS_AUTH + ("stop_server_on_revoke",), False),
    ({("profiles", 0, "display_name"): "Small"}, PROFILE + ("display_name",), "Small"),
    ({("profiles", 0, "description"): "Everyday"}, PROFILE + ("description",), "Everyday"),
    ({("profiles", 0, "default"): True}, PROFILE + ("default",), True),
    ({("profiles", 0, "image"): "reg.example.com/ds/nb:2"}, OVERRIDE + ("image",), "reg.example.com/ds/nb:2"),
    (
        {("profiles", 0, "images"): ["ds/a:1", "ds/b:2"]},
        PROFILE + ("profile_options", "image", "choices", "ds/b:2", "kubespawner_override"),
        {"image": "ds/b:2"},
    ),
    ({("profiles", 0, "cpu_limit"): 4}, OVERRIDE + ("cpu_limit",), 4.0),
    ({("profiles", 0, "mem_limit"): "1.5G"}, OVERRIDE + ("mem_limit",), "1536M"),
    ({("profiles", 0, "cpu_guarantee"): 0.25}, OVERRIDE + ("cpu_guarantee",), 0.25),
    ({("profiles", 0, "mem_guarantee"): "256M"}, OVERRIDE + ("mem_guarantee",), "256M"),
    ({("profiles", 0, "gpus"): 2}, OVERRIDE + ("extra_resource_limits",), {"nvidia.com/gpu": 2}),
    (
        {("profiles", 0, "volumes"): [{"source": "team-data", "target": "/home/jovyan/team", "mode": "rw"}]},
        OVERRIDE + ("volumes", "profile-0"),
        {"name": "profile-0", "persistentVolumeClaim": {"claimName": "team-data"}},
    ),
    (
        {("profiles", 0, "volumes"): [{"source": "/srv/models", "target": "/home/jovyan/models"}]},
        OVERRIDE + ("volume_mounts", "profile-0"),
        {"name": "profile-0", "mountPath": "/home/jovyan/models", "readOnly": True},
    ),
    # KubeSpawner expands {username} in environment values; Docker does not, so braces are doubled
    (
        {("profiles", 0, "environment"): {"MODE": "{fast}", "THREADS": 2}},
        OVERRIDE + ("environment",),
        {"MODE": "{{fast}}", "THREADS": "2", "JUPYTERHUB_DS_PROFILE": "s"},
    ),
    (
        {("profiles", 0, "allowed_groups"): ["ds/power", {"group": "ds", "min_access_level": "maintainer"}]},
        PROFILE + ("allowed_groups",),
        ["ds/power", "ds:maintainer"],
    ),
    ({("profiles", 0, "idle_timeout"): 900}, OVERRIDE + ("args",), ["--ServerApp.shutdown_no_activity_timeout=900"]),
    (
        {("images", "default"): "registry.example.com:5000/ds/singleuser:2.0"},
        ("singleuser", "image"),
        {"name": "registry.example.com:5000/ds/singleuser", "tag": "2.0", "pullPolicy": "IfNotPresent"},
    ),
    (
        {("volumes", "home_volume"): "home-{username}"},
        ("singleuser", "storage", "dynamic", "pvcNameTemplate"),
        "home-{username}",
    ),
    ({("volumes", "home_mount"): "/home/user"}, ("singleuser", "storage", "homeMountPath"), "/home/user"),
    (
        {("volumes", "shared"): [{"source": "/srv/data", "target": "/home/jovyan/data"}]},
        ("singleuser", "storage", "extraVolumeMounts"),
        [{"name": "shared-0", "mountPath": "/home/jovyan/data", "readOnly": True}],
    ),
    (
        {("volumes", "shared"): [{"source": "/srv/data", "target": "/home/jovyan/data"}]},
        ("singleuser", "storage", "extraVolumes"),
        [{"name": "shared-0", "hostPath": {"path": "/srv/data"}}],
    ),
    (
        {("network", "containers_can_talk"): True},
        ("singleuser", "networkPolicy", "ingress"),
        [{"from": [{"podSelector": {"matchLabels": {"component": "singleuser-server"}}}]}],
    ),
    ({("spawner", "start_timeout"): 600}, ("singleuser", "startTimeout"), 600),
    ({("spawner", "http_timeout"): 90}, ("hub", "config", "KubeSpawner", "http_timeout"), 90),
    ({("spawner", "pull_policy"): "always"}, ("singleuser", "image", "pullPolicy"), "Always"),
    (
        {("workspace", "directory"): "work", ("workspace", "projects"): [{"path": "ds/nb"}]},
        ("singleuser", "extraEnv", "JUPYTERHUB_DS_WORKSPACE_DIR"),
        "work",
    ),
    (
        {("workspace", "projects"): [{"path": "ds/nb", "groups": ["ds"]}]},
        ("custom", "jupyterhub-ds", "workspace_projects"),
        [{"project": "ds/nb", "groups": ["ds"], "ref": None}],
    ),
    (
        {("review", "target_branch"): "develop"},
        ("singleuser", "extraEnv", "JUPYTERHUB_DS_REVIEW_POLICY"),
        '{{"allowed_packages": null, "branch_prefix": "review", "commit_notebooks": false, "max_file_size": 10485760, '
        '"max_submission_size": 52428800, "secret_patterns": [], "target_branch": "develop"}}',
    ),
    ({("metrics", "require_auth"): False}, ("hub", "authenticatePrometheus"), False),
    # the hardening section of the admin YAML
    ({("hardening", "user"): "1001:100"}, ("singleuser", "uid"), 1001),
    (
        {("hardening", "cap_add"): ["SYS_PTRACE"]},
        ("hub", "config", "KubeSpawner", "container_security_context", "capabilities", "add"),
        ["SYS_PTRACE"],
    ),
    ({("hardening", "no_new_privileges"): False}, ("singleuser", "allowPrivilegeEscalation"), True),
    (
        {("hardening", "read_only_rootfs"): True},
        ("hub", "config", "KubeSpawner", "container_security_context", "readOnlyRootFilesystem"),
        True,
    ),
    (
        {("hardening", "runtime"): "runsc"},
        ("hub", "config", "KubeSpawner", "extra_pod_config", "runtimeClassName"),
        "runsc",
    ),
    (
        {("hub", "public_url"): "https://hub.example.org/", ("hub", "subdomain_host"): "https://hub.example.org"},
        ("hub", "config", "JupyterHub", "subdomain_host"),
        "https://hub.example.org",
    ),
]


@pytest.mark.parametrize(
    "changes, values_path, expected", MAPPED, ids=[".".join(map(str, next(iter(c)))) for c, _, _ in MAPPED]
)
def test_a_feature_lands_at_its_values_path(tmp_path, changes, values_path, expected):
    values, problems = export(load(tmp_path, changes))
    assert at(values, values_path) == expected
    unexpected = {k: v for k, v in reported(problems).items() if not k.startswith("gitlab.ca_bundle")}
    assert unexpected == {}


REPORTED = [
    ({("hub", "bind"): "http://127.0.0.1:8000"}, "hub.bind", "set proxy.service"),
    ({("hub", "hub_bind_url"): "http://0.0.0.0:8081"}, "hub.hub_bind_url", "through its hub Service"),
    ({("hub", "hub_connect_ip"): "172.17.0.1"}, "hub.hub_connect_ip", "through its hub Service"),
    ({("profiles", 0, "pids_limit"): 512}, "profiles[0].pids_limit", "podPidsLimit"),
    ({("profiles", 0, "gpus"): -1}, "profiles[0].gpus", "-1 (all GPUs) has no Kubernetes equivalent"),
    (
        {("profiles", 0, "mem_guarantee"): None},
        "profiles[0]",
        "no mem_guarantee: Kubernetes then reserves the whole limit",
    ),
    ({("network", "name"): "lab"}, "network.name", "'lab' has no Kubernetes equivalent"),
    ({("spawner", "remove_on_stop"): False}, "spawner.remove_on_stop", "always deletes the pod"),
    (
        {("spawner", "pull_policy"): "never"},
        "spawner.pull_policy",
        "'never' has no Kubernetes equivalent; push the images",
    ),
    ({("spawner", "pull_policy"): "skip"}, "spawner.pull_policy", "'skip' has no Kubernetes equivalent"),
    ({("gitlab", "ca_bundle"): "/etc/ssl/certs/corp.pem"}, "gitlab.ca_bundle", "mount the PEM there"),
    ({("volumes", "home_volume"): "Home_{username}"}, "volumes.home_volume", "not a valid PersistentVolumeClaim name"),
    (
        {("volumes", "shared"): [{"source": "Team_Data", "target": "/home/jovyan/t"}]},
        "volumes.shared[0].source",
        "not a valid PersistentVolumeClaim name",
    ),
    ({("promotion", "projects"): [PROMOTED]}, "promotion.projects", "not available on Kubernetes yet"),
]


@pytest.mark.parametrize("changes, yaml_path, reason", REPORTED, ids=[r[1] for r in REPORTED])
def test_a_setting_without_an_equivalent_is_reported_with_its_yaml_path(tmp_path, changes, yaml_path, reason):
    _, problems = export(load(tmp_path, changes))
    assert reason in reported(problems)[yaml_path]


@pytest.mark.parametrize(
    "changes, absent",
    [
        ({("profiles", 0, "gpus"): -1}, OVERRIDE + ("extra_resource_limits",)),
        ({("spawner", "pull_policy"): "never"}, ("singleuser", "image", "pullPolicy")),
        ({("volumes", "home_volume"): "Home_{username}"}, ("singleuser", "storage", "dynamic")),
    ],
)
def test_a_reported_value_is_not_written_half_translated(tmp_path, changes, absent):
    values, _ = export(load(tmp_path, changes))
    with pytest.raises(KeyError):
        at(values, absent)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {("images", "build", "debian_suite"): "trixie"},
        {("images", "allowed"): ["jupyterhub-ds/singleuser:latest"]},
        {("promotion", "timezone"): "Europe/Berlin"},  # no projects: nothing would run
    ],
)
def test_settings_that_need_nothing_on_kubernetes_are_not_reported(tmp_path, changes):
    _, problems = export(load(tmp_path, changes))
    assert reported(problems) == {}


def test_swarm_kind_needs_nothing_but_what_swarm_forced_is_reported(tmp_path):
    # kind: swarm needs allow_swap and containers_can_talk (semantic.check_swarm); swap is named
    # like for any Docker config, the network becomes the chart's network policy as usual
    values, problems = export(
        load(
            tmp_path,
            {
                ("spawner", "kind"): "swarm",
                ("hardening", "allow_swap"): True,
                ("network", "containers_can_talk"): True,
                ("profiles", 0, "placement"): ["node.labels.disk==ssd", "node.role!=manager"],
            },
        )
    )
    assert set(reported(problems)) == {"hardening.allow_swap", "profiles[0].placement[1]"}
    assert values["singleuser"]["profileList"][0]["kubespawner_override"]["node_selector"] == {"disk": "ssd"}


def test_settings_the_export_does_not_know_are_reported_not_lost(tmp_path):
    config = load(tmp_path, {})
    # keys a later admin YAML may have (the loader of this version would refuse them)
    config["hardening"] = {**config["hardening"], "tmpfs": {"/scratch": "size=1g"}, "seccomp": "strict"}
    config["profiles"][0]["shm_size"] = "1G"
    _, problems = export(config)
    found = reported(problems)
    assert set(found) == {"hardening.tmpfs./scratch", "hardening.seccomp", "profiles[0].shm_size"}
    assert all("not carried over" in message for message in found.values())


def test_allowed_groups_entries_are_matched_exactly_as_opaque_strings(tmp_path):
    config = load(
        tmp_path, {("profiles", 0, "allowed_groups"): [{"group": "ds", "min_access_level": "maintainer"}, "ds/gpu"]}
    )
    values, _ = export(config)
    entries = values["singleuser"]["profileList"]
    # the hub group names the Docker spawner matches: group rule keys, written as they are
    assert entries[0]["allowed_groups"] == ["ds:maintainer", "ds/gpu"]
    profile_list = z2jh_hub.group_profile_list(entries)

    def offered(*groups):
        spawner = SimpleNamespace(user=SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups]))
        try:
            return [p["slug"] for p in profile_list(spawner)]
        except web.HTTPError as refused:
            return refused.status_code

    assert offered("ds:maintainer") == ["s"]
    assert offered("ds/gpu") == ["s"]
    assert offered("ds") == 403  # no prefix or level matching
    assert offered("ds:owner") == 403
    assert offered("ds/gpu/team") == 403
