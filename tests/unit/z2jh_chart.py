"""A stand-in for the Zero to JupyterHub chart's hub side, for tests without a cluster.

The chart (4.3+) turns its values into the hub's traitlets config in the hub pod's
jupyterhub_config.py, then runs ``hub.extraConfig``. ``hub_config(values)`` does the same
for the keys the export writes, written from the chart's documented mapping (the chart is
not a Python package, so it cannot be imported). Values are merged over the chart defaults
that matter here like Helm merges them (maps merge, ``null`` removes a default). A values
key this stand-in does not know fails the test, so a key the export starts writing cannot
go unchecked; keys that only the chart's templates read (network policy, hub image, the
Secret) are listed as such and checked by the tests directly.

``spawner(config, user, groups)`` builds a real ``kubespawner.KubeSpawner`` in its offline
mock mode (``_mock=True``, as kubespawner's own tests do), with the in-cluster client
config stubbed so no kubeconfig or cluster is needed: building a pod makes no API call.
"""

import copy
from types import SimpleNamespace

from traitlets.config import Config

# The chart's defaults (values.yaml of chart 4.4.0) for the keys the export touches.
CHART_DEFAULTS = {
    "hub": {
        "config": {"JupyterHub": {"admin_access": True, "authenticator_class": "dummy"}},
        "baseUrl": "/",
        "db": {"type": "sqlite-pvc", "url": None},
        "extraConfig": {},
        "loadRoles": {},
    },
    "singleuser": {
        "uid": 1000,
        "fsGid": 100,
        "allowPrivilegeEscalation": False,
        "extraLabels": {"hub.jupyter.org/network-access-hub": "true"},
        "extraEnv": {},
        "image": {"name": "quay.io/jupyterhub/k8s-singleuser-sample", "tag": "4.4.0", "pullPolicy": None},
        "startTimeout": 300,
        "cpu": {"limit": None, "guarantee": None},
        "memory": {"limit": None, "guarantee": "1G"},
        "extraResource": {"limits": {}, "guarantees": {}},
        "cmd": "jupyterhub-singleuser",
        "storage": {
            "type": "dynamic",
            "homeMountPath": "/home/jovyan",
            "capacity": "10Gi",
            "extraVolumes": None,
            "extraVolumeMounts": None,
            "dynamic": {"pvcNameTemplate": None, "volumeNameTemplate": "volume-{user_server}"},
        },
        "networkPolicy": {
            "enabled": True,
            "ingress": [],
            "egress": [],
            "allowedIngressPorts": [],
            "interNamespaceAccessLabels": "ignore",
            "egressAllowRules": {"privateIPs": False, "nonPrivateIPs": True, "cloudMetadataServer": False},
        },
        "profileList": [],
    },
    "cull": {"enabled": True, "timeout": 3600},
    "custom": {},
}

# values paths (dotted prefixes) the stand-in maps into the hub config
HUB_CONFIG_KEYS = {
    "hub.config",
    "hub.baseUrl",
    "hub.db.type",
    "hub.db.url",
    "hub.loadRoles",
    "hub.extraConfig",
    "hub.authenticatePrometheus",
    "singleuser.uid",
    "singleuser.fsGid",
    "singleuser.allowPrivilegeEscalation",
    "singleuser.extraEnv",
    "singleuser.image",
    "singleuser.startTimeout",
    "singleuser.cpu",
    "singleuser.memory",
    "singleuser.extraResource",
    "singleuser.storage",
    "singleuser.profileList",
    "cull.enabled",
    "custom",
}
# values paths only the chart's templates read (not the hub config); the tests check them
TEMPLATE_KEYS = {"hub.image", "hub.existingSecret", "hub.extraEnv", "singleuser.networkPolicy"}


def helm_merge(base, values):
    out = copy.deepcopy(base)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaf_paths(values, prefix=""):
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and path not in HUB_CONFIG_KEYS | TEMPLATE_KEYS:
            yield from leaf_paths(value, path)
        else:
            yield path


def unknown_keys(values):
    known = HUB_CONFIG_KEYS | TEMPLATE_KEYS
    return [p for p in leaf_paths(values) if not any(p == k or p.startswith(k + ".") for k in known)]


def get_config_from(values):
    """The chart's ``get_config("a.b.c", default)`` over the merged values."""

    def get_config(key, default=None):
        node = values
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    return get_config


def hub_config(exported):
    """The hub's traitlets Config as the chart builds it from ``exported`` values."""
    wrong = unknown_keys(exported)
    assert not wrong, f"values keys the chart stand-in does not know: {wrong}"
    v = helm_merge(CHART_DEFAULTS, exported)
    c = Config()
    hub, su = v["hub"], v["singleuser"]
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.JupyterHub.base_url = hub["baseUrl"]
    if hub.get("authenticatePrometheus") is not None:
        c.JupyterHub.authenticate_prometheus = hub["authenticatePrometheus"]
    db = hub["db"]
    c.JupyterHub.db_url = {"sqlite-pvc": "sqlite:///jupyterhub.sqlite", "sqlite-memory": "sqlite://"}.get(
        db["type"], db.get("url")
    )
    ks = c.KubeSpawner
    simple = {
        "uid": "uid",
        "fsGid": "fs_gid",
        "startTimeout": "start_timeout",
        "extraLabels": "extra_labels",
        "extraEnv": "environment",
        "profileList": "profile_list",
    }
    for key, trait in simple.items():
        if su.get(key) is not None:
            setattr(ks, trait, su[key])
    nested = {
        ("cpu", "limit"): "cpu_limit",
        ("cpu", "guarantee"): "cpu_guarantee",
        ("memory", "limit"): "mem_limit",
        ("memory", "guarantee"): "mem_guarantee",
        ("extraResource", "limits"): "extra_resource_limits",
        ("extraResource", "guarantees"): "extra_resource_guarantees",
        ("image", "pullPolicy"): "image_pull_policy",
    }
    for (outer, inner), trait in nested.items():
        if su.get(outer, {}).get(inner) is not None:
            setattr(ks, trait, su[outer][inner])
    ks.allow_privilege_escalation = su.get("allowPrivilegeEscalation")
    ks.image = f"{su['image']['name']}:{su['image']['tag']}" if su["image"].get("tag") else su["image"]["name"]
    c.Spawner.cmd = su["cmd"]
    volumes, mounts = {}, {}
    storage = su["storage"]
    if storage["type"] == "dynamic":
        dynamic = storage["dynamic"]
        if dynamic.get("pvcNameTemplate"):
            ks.pvc_name_template = dynamic["pvcNameTemplate"]
        ks.storage_pvc_ensure = True
        ks.storage_capacity = storage["capacity"]
        name = dynamic["volumeNameTemplate"]
        volumes[name] = {"name": name, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
        mounts[name] = {"name": name, "mountPath": storage["homeMountPath"]}
    for volume in storage.get("extraVolumes") or []:
        volumes[volume["name"]] = volume
    for i, mount in enumerate(storage.get("extraVolumeMounts") or []):
        mounts[f"{i}-{mount['name']}"] = mount
    ks.volumes, ks.volume_mounts = volumes, mounts
    c.JupyterHub.services, c.JupyterHub.load_roles = [], []
    if v["cull"]["enabled"]:
        c.JupyterHub.services = [
            {"name": "jupyterhub-idle-culler", "command": ["python3", "-m", "jupyterhub_idle_culler"]}
        ]
    for name, role in hub["loadRoles"].items():
        c.JupyterHub.load_roles.append({"name": name, **role})
    for section, traits in hub["config"].items():
        c[section].update(copy.deepcopy(traits))
    for _key, code in sorted(hub["extraConfig"].items()):
        exec(compile(code, f"hub.extraConfig.{_key}", "exec"), {"c": c, "get_config": get_config_from(v)})
    return c


def offline(monkeypatch):
    """No cluster: KubeSpawner loads the in-cluster client config, stubbed to the defaults."""
    import kubernetes_asyncio.config

    monkeypatch.setattr(kubernetes_asyncio.config, "load_incluster_config", lambda *a, **k: None)


def user(name, groups):
    """What KubeSpawner and the profile filter read of a hub user."""
    return SimpleNamespace(
        name=name,
        escaped_name=name,
        id=1,
        url=f"/user/{name}/",
        groups=[SimpleNamespace(name=g) for g in groups],
    )


def spawner(config, name, groups):
    from kubespawner import KubeSpawner

    return KubeSpawner(_mock=True, config=config, user=user(name, groups))
