"""The exported Z2JH values, loaded into a real KubeSpawner, give users what Docker gives them.

For both shipped admin YAMLs: the values go through the chart stand-in (tests/unit/z2jh_chart.py)
into a ``kubespawner.KubeSpawner`` in its offline mock mode; each user is offered exactly the
profiles ``allowed_profiles`` offers on Docker, and the pod KubeSpawner builds for a choice
carries the image, limits, GPUs, volumes, environment and security context Docker would run.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from jupyterhub.scopes import scope_definitions
from tornado import web

from jupyterhub_ds.auth import DSGitLabOAuthenticator
from jupyterhub_ds.config import apply as A
from jupyterhub_ds.config.loader import allowed_packages, build_config, check_file
from jupyterhub_ds.config.profiles import normalize_profiles
from jupyterhub_ds.export.z2jh import export
from jupyterhub_ds.spawner import container
from jupyterhub_ds.spawner.docker import ProfileDockerSpawner
from jupyterhub_ds.spawner.profiles import allowed_profiles, default_profile, resolve, workspace_for
from tests.unit import z2jh_chart

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
ADMIN_FILES = ["hub_config/jupyterhub_ds.yaml", "hub_config/demo.yaml"]


@pytest.fixture(params=ADMIN_FILES)
def admin(request, monkeypatch):
    z2jh_chart.offline(monkeypatch)
    lines, config = check_file(REPO / request.param)
    assert lines == []
    base_dir = (REPO / request.param).parent  # relative paths in the file (the package lock)
    values, _ = export(config, base_dir=base_dir)
    profiles = normalize_profiles(config["profiles"], config["images"]["default"])
    return SimpleNamespace(
        config=config, values=values, hub=z2jh_chart.hub_config(values), profiles=profiles, base_dir=base_dir
    )


def group_cases(profiles):
    """Users to try: no group, each group a profile names, all of them, the parent of a
    named subgroup (exact names: a parent is not its subgroup) and an unrelated group."""
    named = sorted({g for p in profiles for g in p["allowed_groups"]})
    parents = sorted({g.rsplit("/", 1)[0] for g in named if "/" in g} - set(named))
    return [[]] + [[g] for g in named] + [named] + [[p] for p in parents] + [["somewhere-else"]]


def everyone(profiles):
    return sorted({g for p in profiles for g in p["allowed_groups"]})


def manifest(spawner, pod):
    """The pod as KubeSpawner sends it to the Kubernetes API (camelCase JSON)."""
    return spawner.api.api_client.sanitize_for_serialization(pod)


async def pod_for(hub, groups, options):
    spawner = z2jh_chart.spawner(hub, "alice", groups)
    spawner.user_options = dict(options)
    await spawner.load_user_options()
    return spawner, manifest(spawner, await spawner.get_pod_manifest())


async def test_each_user_is_offered_the_profiles_docker_offers(admin):
    for groups in group_cases(admin.profiles):
        expected = [p["slug"] for p in allowed_profiles(admin.profiles, groups)]
        spawner = z2jh_chart.spawner(admin.hub, "alice", groups)
        if not expected:
            with pytest.raises(web.HTTPError) as refused:
                await spawner.get_options_form()
            assert refused.value.status_code == 403
            continue
        form = BeautifulSoup(await spawner.get_options_form(), "html.parser")
        radios = form.find_all("input", attrs={"name": "profile"})
        assert [r["value"] for r in radios] == expected, groups
        checked = [r["value"] for r in radios if r.has_attr("checked")]
        assert checked == [default_profile(admin.profiles, groups)["slug"]], groups


async def test_a_profile_outside_the_users_groups_cannot_be_started(admin):
    for groups in group_cases(admin.profiles):
        allowed = {p["slug"] for p in allowed_profiles(admin.profiles, groups)}
        for profile in admin.profiles:
            if profile["slug"] in allowed:
                continue
            spawner = z2jh_chart.spawner(admin.hub, "alice", groups)
            spawner.user_options = {"profile": profile["slug"]}
            with pytest.raises((ValueError, web.HTTPError)):
                await spawner.load_user_options()


async def test_choosing_a_profile_builds_the_pod_docker_would_run(admin):
    groups = everyone(admin.profiles)
    volumes = admin.config["volumes"]
    for profile in admin.profiles:
        for image in profile["images"]:
            options = {"profile": profile["slug"]}
            if len(profile["images"]) > 1:
                options["image"] = image  # the same user_options as Docker's REST API
            docker = resolve(admin.profiles, groups, options)
            spawner, pod = await pod_for(admin.hub, groups, options)
            [ctr] = pod["spec"]["containers"]
            assert ctr["image"] == docker.image == image
            limits, requests = ctr["resources"].get("limits", {}), ctr["resources"].get("requests", {})
            assert limits.get("cpu") == docker.cpu_limit
            assert int(limits["memory"]) == docker.mem_limit
            assert requests.get("cpu") == docker.cpu_guarantee
            # no guarantee: no request (the chart's default 1G request is removed)
            assert (int(requests["memory"]) if "memory" in requests else None) == docker.mem_guarantee
            assert limits.get("nvidia.com/gpu") == (docker.gpus or None)
            env = {e["name"]: e.get("value") for e in ctr["env"]}
            for key, value in docker.environment.items():
                assert env[key] == value
            assert env["JUPYTERHUB_DS_PROFILE"] == docker.slug
            assert env["JUPYTERHUB_DS_GITLAB_URL"] == admin.config["gitlab"]["url"].rstrip("/")
            assert json.loads(env["JUPYTERHUB_DS_REVIEW_POLICY"]) == A.review_policy(
                admin.config["review"], allowed_packages(admin.config, admin.base_dir)
            )
            timeout = [a for a in ctr.get("args", []) if "shutdown_no_activity_timeout" in a]
            assert timeout == (
                [f"--ServerApp.shutdown_no_activity_timeout={docker.idle_timeout}"] if docker.idle_timeout else []
            )

            docker_mounts = container.volumes(
                docker,
                home_volume_template=volumes["home_volume"],
                home_mount=volumes["home_mount"],
                shared_mounts=volumes["shared"],
            )
            pod_volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            by_target = {m["mountPath"]: m for m in ctr["volumeMounts"]}
            assert sorted(by_target) == sorted(spec["bind"] for spec in docker_mounts.values())
            for source, spec in docker_mounts.items():
                mount = by_target[spec["bind"]]
                volume = pod_volumes[mount["name"]]
                if source == volumes["home_volume"]:
                    assert volume["persistentVolumeClaim"]["claimName"] == source.format(username="alice")
                elif source.startswith("/"):
                    assert volume["hostPath"]["path"] == source
                else:
                    assert volume["persistentVolumeClaim"]["claimName"] == source
                assert mount.get("readOnly", False) is (spec["mode"] == "ro"), spec


async def test_every_pod_runs_with_dockers_hardening_as_a_security_context(admin):
    groups = everyone(admin.profiles)
    for profile in admin.profiles:
        _, pod = await pod_for(admin.hub, groups, {"profile": profile["slug"]})
        assert pod["spec"]["securityContext"]["fsGroup"] == 100
        [ctr] = pod["spec"]["containers"]
        sc = ctr["securityContext"]
        assert (sc["runAsUser"], sc["runAsGroup"]) == (1000, 100)
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
        shared = {m["target"] for m in admin.config["volumes"]["shared"] if m["mode"] == "ro"}
        assert shared and all(m.get("readOnly") for m in ctr["volumeMounts"] if m["mountPath"] in shared)
        # the chart's NetworkPolicy lets only pods with this label reach a user pod
        assert "hub.jupyter.org/network-access-singleuser" not in pod["metadata"]["labels"]


async def test_the_network_policy_admits_only_the_hub_and_proxy(admin):
    policy = admin.values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    # the chart's own rule (ingress from pods labelled network-access-singleuser: hub and
    # proxy) is the only one: no extra ingress, no open port, no other namespace
    assert policy["ingress"] == [] and policy["allowedIngressPorts"] == []
    assert policy["interNamespaceAccessLabels"] == "ignore"


async def test_each_server_gets_the_workspace_projects_of_its_owners_groups(admin):
    profiles, projects = admin.profiles, admin.config["workspace"]["projects"]
    docker_projects = [{"project": p["path"], "groups": p["groups"], "ref": p["ref"]} for p in projects]
    for groups in group_cases(profiles):
        offered = allowed_profiles(profiles, groups)
        if not offered:
            continue
        spawner, pod = await pod_for(admin.hub, groups, {"profile": offered[0]["slug"]})
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert json.loads(env["JUPYTERHUB_DS_WORKSPACE"]) == workspace_for(docker_projects, groups)


async def test_the_hub_logs_in_and_scopes_server_tokens_as_on_docker(admin, monkeypatch):
    env = {"GITLAB_CLIENT_SECRET": "client-secret-from-the-secret", "JUPYTERHUB_CRYPT_KEY": "00" * 32}
    # the promotion service is not exported, so compare with a Docker hub without it
    docker = build_config(
        {**admin.config, "promotion": {**admin.config["promotion"], "projects": []}}, env, admin.base_dir
    )
    monkeypatch.setenv("GITLAB_CLIENT_SECRET", env["GITLAB_CLIENT_SECRET"])
    on_kube = DSGitLabOAuthenticator(config=admin.hub)
    on_docker = DSGitLabOAuthenticator(config=docker)
    # every setting of the authenticator: login rules, group rules, admins, refresh, token scope
    traits = on_docker.trait_names(config=True)
    assert "privilege_group_rules" in traits and "client_secret" in traits
    for trait in traits:
        assert getattr(on_kube, trait) == getattr(on_docker, trait), trait
    # users are put in the hub groups the profiles name (the spawner's filter reads those)
    assert {g for p in admin.profiles for g in p["allowed_groups"]} <= on_kube.privilege_group_rules
    chart_managed = {"bind_url", "hub_bind_url", "hub_connect_ip", "db_url", "cleanup_servers", "spawner_class"}
    for trait, value in docker.JupyterHub.items():
        if trait not in chart_managed:
            assert admin.hub.JupyterHub[trait] == value, trait
    for name, definition in docker.JupyterHub.custom_scopes.items():  # as the hub registers them at start
        monkeypatch.setitem(scope_definitions, name, definition)
    docker_spawner = ProfileDockerSpawner(authenticator=on_docker)
    kube_spawner = z2jh_chart.spawner(admin.hub, "alice", [])
    assert kube_spawner.server_token_scopes == docker_spawner.server_token_scopes
    assert any(s.startswith("custom:") for s in kube_spawner.server_token_scopes)  # the GitLab token scope
