"""Admin YAML -> Helm values for Zero to JupyterHub (Z2JH), carrying the same policy.

Target: the Z2JH Helm chart 4.x from 4.3 on (values schema as of chart 4.4.0), whose hub
runs JupyterHub 5.4+ and KubeSpawner 7; from 4.3 on the chart hands KubeSpawner its volumes
as a dict, so a profile's volumes add to the home and shared ones instead of replacing
them. See docs/kubernetes.md.

``export(config)`` is pure: the validated, defaults-filled admin config (what
``jupyterhub_ds.config.check_file`` returns) in, ``(values, problems)`` out; ``problems``
are ``Problem``s (YAML path, message) for every setting that does not carry over. Native
chart values are used wherever the chart has them (profiles, security context, network
policy, storage, the authenticator through ``hub.config``); the two things it has no
values for (profiles restricted to GitLab groups, per-user workspace projects) are done by
``hub.extraConfig`` calling ``jupyterhub_ds.export.z2jh_hub`` in the hub pod. Secrets are
never written: the values name the Kubernetes Secret that holds them.
"""

import json
import re

from traitlets.config import Config

from .._version import __version__
from ..audit import EVENTS_SCOPE
from ..config import apply as A
from ..config import secrets
from ..config.loader import allowed_packages, build_config
from ..config.problems import Problem, show
from ..config.profiles import normalize_profiles
from ..spawner.container import Hardening
from . import z2jh_rules

CHART = "Zero to JupyterHub Helm chart 4.x (4.3 or later; values as of 4.4.0) with KubeSpawner 7"
SECRET_NAME = "jupyterhub-ds"
HUB_IMAGE = f"jupyterhub-ds/k8s-hub:{__version__}"
CUSTOM_KEY = "jupyterhub-ds"
GPU_RESOURCE = "nvidia.com/gpu"
# The single-user image runs as USER 1000:100 (images/singleuser/Dockerfile); Docker keeps
# that primary group, Kubernetes needs it said (runAsGroup) and gives volumes to it (fsGroup).
USERS_GID = 100
# What ProfileDockerSpawner gives a server's token, plus the authenticator's GitLab token
# scope (the git credential helper asks the hub for a short-lived GitLab token with it).
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]
PULL_POLICIES = {"ifnotpresent": "IfNotPresent", "always": "Always"}
# Of the hub config the Docker hub runs with: the spawner sections (KubeSpawner gets its own
# values below) and the JupyterHub traits the chart sets itself or has a values key for.
SPAWNER_SECTIONS = {"Spawner", "DockerSpawner", "SwarmSpawner", "ProfileSpawnerMixin", "ProfileSwarmSpawner"}
CHART_MANAGED = {
    "JupyterHub": {
        "bind_url",
        "hub_bind_url",
        "hub_connect_ip",
        "db_url",
        "cleanup_servers",
        "spawner_class",
        "services",
        "load_roles",
        "authenticate_prometheus",
    },
}
EXTRA_CONFIG = f"""\
# jupyterhub-ds policy the chart has no values for (docs/kubernetes.md): each user is
# offered the singleuser.profileList entries whose allowed_groups name one of their
# JupyterHub groups exactly (synced from GitLab by ds-gitlab), as on Docker, and each
# server gets the workspace projects of its owner's groups.
from jupyterhub_ds.export.z2jh_hub import configure
configure(c, get_config("custom.{CUSTOM_KEY}", {{}}))
"""
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def literal(text):
    """KubeSpawner expands ``{username}`` and the like in environment values (str.format);
    Docker passes them as they are. Doubled braces keep a value literal (JSON, regexes)."""
    return str(text).replace("{", "{{").replace("}", "}}")


def kube_size(n_bytes):
    """Bytes -> a size KubeSpawner reads (its K/M/G/T are powers of 1024, like the admin
    YAML's): the largest exact unit, else plain bytes."""
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n_bytes % factor == 0:
            return f"{n_bytes // factor}{unit}"
    return n_bytes


def split_image(ref):
    """``registry:5000/a/b:1.0`` -> ``("registry:5000/a/b", "1.0")``; no tag: ``latest``.
    The chart joins name and tag with ``:``, so a digest splits at its own colon."""
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return ref, "latest"


def plain(value):
    """Config values as YAML-able data (sets become sorted lists)."""
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def hub_traits(config, base_dir=None):
    """The traitlets config the Docker hub runs with (the loader's own ``build_config``),
    without any secret (no environment is given) and without the promotion service, which
    is not exported (its roles would name a service the hub does not have)."""
    return build_config({**config, "promotion": {**config["promotion"], "projects": []}}, env={}, base_dir=base_dir)


def hardening_of(config):
    """The Docker spawner's Hardening for the admin YAML's hardening section."""
    h = config.get("hardening") or {}
    return Hardening(
        user=h.get("user", "1000"),
        no_new_privileges=h.get("no_new_privileges", True),
        cap_add=tuple(h.get("cap_add") or ()),
        read_only_rootfs=h.get("read_only_rootfs", False),
        runtime=h.get("runtime"),
    )


DOCKER_DEFAULTS = Hardening()  # frozen: safe to share


def security_values(hardening=DOCKER_DEFAULTS):
    """(singleuser values, hub.config.KubeSpawner traits) for Docker's hardening policy."""
    uid, _, gid = str(hardening.user).partition(":")
    container = {"capabilities": {"drop": list(hardening.cap_drop)}}
    if hardening.cap_add:
        container["capabilities"]["add"] = list(hardening.cap_add)
    if hardening.read_only_rootfs:
        container["readOnlyRootFilesystem"] = True
    singleuser = {"uid": int(uid), "fsGid": USERS_GID, "allowPrivilegeEscalation": not hardening.no_new_privileges}
    spawner = {
        "gid": int(gid or USERS_GID),
        "container_security_context": container,
        # Docker applies its default seccomp profile to every container; Kubernetes only when asked
        "pod_security_context": {"seccompProfile": {"type": "RuntimeDefault"}},
    }
    if hardening.runtime:
        # a RuntimeClass of that name must exist in the cluster (e.g. gVisor's runsc)
        spawner["extra_pod_config"] = {"runtimeClassName": hardening.runtime}
    return singleuser, spawner


def volume(name, mount, where, problems):
    """A Docker-style mount ``{source, target, mode}`` -> (pod volume, volume mount):
    absolute paths become hostPath volumes, volume names PersistentVolumeClaims."""
    source, read_only = mount["source"], mount.get("mode", "ro") == "ro"
    if source.startswith("/"):
        vol = {"name": name, "hostPath": {"path": source}}
    else:
        vol = {"name": name, "persistentVolumeClaim": {"claimName": source}}
        if read_only:
            vol["persistentVolumeClaim"]["readOnly"] = True
        if not _DNS_NAME.match(source):
            problems.append(
                Problem(
                    where + ("source",),
                    f"{show(source)} is not a valid PersistentVolumeClaim name; "
                    "rename the claim with lowercase letters, digits, '-' and '.' and edit the values",
                )
            )
    mnt = {"name": name, "mountPath": mount["target"]}
    if read_only:
        mnt["readOnly"] = True
    return vol, mnt


# a Swarm placement constraint that is a Kubernetes node label selector
NODE_LABEL = re.compile(r"^node\.labels\.([A-Za-z0-9_.-]+)==(\S+)$")


def profile_entry(index, profile, problems):
    """One normalized profile -> a KubeSpawner profile_list entry."""
    here = ("profiles", index)
    override = {}
    entry = {"slug": profile["slug"], "display_name": profile["display_name"], "description": profile["description"]}
    if profile["default"]:
        entry["default"] = True
    if profile["allowed_groups"]:
        entry["allowed_groups"] = list(profile["allowed_groups"])
    images = profile["images"]
    if len(images) == 1:
        override["image"] = images[0]
    else:
        # option "image" with the references as choice keys: user_options {"profile", "image"}
        # mean the same through the REST API as on Docker
        choices = {img: {"display_name": img, "kubespawner_override": {"image": img}} for img in images}
        choices[images[0]]["default"] = True
        entry["profile_options"] = {"image": {"display_name": "Image", "choices": choices}}
    for key in ("cpu_limit", "cpu_guarantee"):
        if profile[key] is not None:
            override[key] = profile[key]
    for key in ("mem_limit", "mem_guarantee"):
        if profile[key] is not None:
            override[key] = kube_size(profile[key])
    missing = [k for k in ("cpu", "mem") if profile[f"{k}_limit"] is not None and profile[f"{k}_guarantee"] is None]
    if missing:
        names = " and ".join(f"{k}_guarantee" for k in missing)
        problems.append(
            Problem(
                here,
                f"has no {names}: Kubernetes then reserves the whole limit on a node "
                "(Docker reserves nothing); set a guarantee to reserve less",
            )
        )
    if profile["gpus"] > 0:
        override["extra_resource_limits"] = {GPU_RESOURCE: profile["gpus"]}
    elif profile["gpus"] == -1:
        problems.append(
            Problem(
                here + ("gpus",),
                f"-1 (all GPUs) has no Kubernetes equivalent; give the number "
                f"of GPUs ({GPU_RESOURCE}) the profile gets",
            )
        )
    selector = {}
    for k, constraint in enumerate(profile.get("placement") or ()):
        label = NODE_LABEL.match(constraint)
        if label:
            selector[label.group(1)] = label.group(2)
        else:
            problems.append(
                Problem(
                    here + ("placement", k),
                    f"{constraint!r} has no node_selector equivalent (only "
                    "node.labels.KEY==VALUE has); write a node affinity in the profile's "
                    "kubespawner_override.node_affinity_required by hand",
                )
            )
    if selector:
        override["node_selector"] = selector
    env = {**profile["environment"], "JUPYTERHUB_DS_PROFILE": profile["slug"]}
    override["environment"] = {k: literal(v) for k, v in env.items()}
    if profile["idle_timeout"]:
        override["args"] = [f"--ServerApp.shutdown_no_activity_timeout={int(profile['idle_timeout'])}"]
    if profile["volumes"]:
        override["volumes"], override["volume_mounts"] = {}, {}
        for i, (source, spec) in enumerate(profile["volumes"].items()):
            mount = {"source": source, "target": spec["bind"], "mode": spec["mode"]}
            vol, mnt = volume(f"profile-{i}", mount, here + ("volumes", i), problems)
            override["volumes"][vol["name"]], override["volume_mounts"][vol["name"]] = vol, mnt
    entry["kubespawner_override"] = override
    return entry


def storage_values(section, problems):
    storage = {"type": "dynamic", "homeMountPath": section["home_mount"]}
    template = section["home_volume"]
    if _DNS_NAME.match(re.sub(r"\{[a-z_]+\}", "x", template)):
        storage["dynamic"] = {"pvcNameTemplate": template}
    else:
        problems.append(
            Problem(
                ("volumes", "home_volume"),
                f"{show(template)} is not a valid PersistentVolumeClaim "
                "name; the home claims keep the chart's name claim-{username}",
            )
        )
    mounts = [volume(f"shared-{i}", m, ("volumes", "shared", i), problems) for i, m in enumerate(section["shared"])]
    if mounts:
        storage["extraVolumes"] = [v for v, _ in mounts]
        storage["extraVolumeMounts"] = [m for _, m in mounts]
    return storage


def network_policy(section):
    """User pods: ingress only from the hub and proxy (the chart's rule), egress to the hub,
    DNS and any address like a Docker container (GitLab is often on a private network);
    another user's pod is unreachable because its ingress refuses it."""
    policy = {
        "enabled": True,
        "ingress": [],
        "allowedIngressPorts": [],
        "interNamespaceAccessLabels": "ignore",
        "egressAllowRules": {"privateIPs": True, "nonPrivateIPs": True},
    }
    if section["containers_can_talk"]:
        policy["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"component": "singleuser-server"}}}]}]
    return policy


def singleuser_values(config, problems, base_dir=None):
    name, tag = split_image(config["images"]["default"])
    security, _ = security_values(hardening_of(config))
    su = {"image": {"name": name, "tag": tag}}
    policy = config["spawner"]["pull_policy"]
    if policy in PULL_POLICIES:
        su["image"]["pullPolicy"] = PULL_POLICIES[policy]
    else:
        problems.append(
            Problem(
                ("spawner", "pull_policy"),
                f"{show(policy)} has no Kubernetes equivalent; push the "
                "images to a registry the cluster pulls from (or preload them on every node and set "
                "singleuser.image.pullPolicy: Never)",
            )
        )
    su.update(security)
    # the chart requests 1G for every pod by default; on Docker only a profile reserves memory
    su["memory"] = {"guarantee": None}
    su["startTimeout"] = config["spawner"]["start_timeout"]
    su["storage"] = storage_values(config["volumes"], problems)
    env = {
        "JUPYTERHUB_DS_GITLAB_URL": config["gitlab"]["url"].rstrip("/"),
        "JUPYTERHUB_DS_REVIEW_POLICY": json.dumps(
            A.review_policy(config["review"], allowed_packages(config, base_dir)), sort_keys=True
        ),
    }
    if config["workspace"]["projects"]:
        env["JUPYTERHUB_DS_WORKSPACE_DIR"] = config["workspace"]["directory"]
    su["extraEnv"] = {k: literal(v) for k, v in env.items()}
    su["networkPolicy"] = network_policy(config["network"])
    profiles = normalize_profiles(config["profiles"], config["images"]["default"])
    su["profileList"] = [profile_entry(i, p, problems) for i, p in enumerate(profiles)]
    return su


def db_values(url):
    scheme = url.split("://", 1)[0]
    if scheme.startswith("sqlite"):
        return {"type": "sqlite-memory" if url in ("sqlite://", "sqlite:///:memory:") else "sqlite-pvc"}
    return {"type": "postgres" if scheme.startswith("postgresql") else "mysql", "url": url}


def hub_values(config, problems, *, secret_name, hub_image, base_dir=None):
    c = hub_traits(config, base_dir)
    hub_config = {}
    for cls, section in c.items():
        if cls in SPAWNER_SECTIONS:
            continue
        kept = {
            k: plain(v)
            for k, v in section.items()
            if k not in CHART_MANAGED.get(cls, ()) and not secrets.is_secret_key(k)
        }
        if kept:
            hub_config[cls] = kept
    _, spawner = security_values(hardening_of(config))
    scopes = list(SERVER_TOKEN_SCOPES)
    token_scope = c.DSGitLabOAuthenticator.get("token_scope")
    if token_scope:
        scopes.append(f"{token_scope}!user")
    if EVENTS_SCOPE in c.JupyterHub.get("custom_scopes", {}):  # review events to the audit trail, as on Docker
        scopes.append(f"{EVENTS_SCOPE}!user")
    hub_config["KubeSpawner"] = {
        **spawner,
        "server_token_scopes": scopes,
        "http_timeout": config["spawner"]["http_timeout"],
    }
    if config["gitlab"]["ca_bundle"]:
        problems.append(
            Problem(
                ("gitlab", "ca_bundle"),
                f"{show(config['gitlab']['ca_bundle'])} must exist in the hub "
                "pod; mount the PEM there (hub.extraVolumes and hub.extraVolumeMounts from a ConfigMap)",
            )
        )
    name, tag = split_image(hub_image)
    roles = {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in c.JupyterHub.load_roles}
    return {
        "image": {"name": name, "tag": tag},
        "baseUrl": config["hub"]["base_url"],
        "db": db_values(config["hub"]["db_url"]),
        "existingSecret": secret_name,
        "extraEnv": {
            secrets.GITLAB_CLIENT_SECRET: {
                "valueFrom": {"secretKeyRef": {"name": secret_name, "key": secrets.GITLAB_CLIENT_SECRET}}
            },
        },
        "authenticatePrometheus": c.JupyterHub.authenticate_prometheus,
        "config": hub_config,
        "loadRoles": plain(roles),
        "extraConfig": {CUSTOM_KEY: EXTRA_CONFIG},
    }


def promotion_problems(section):
    if not section["projects"]:
        return []
    lanes = sum(len(p["lanes"]) for p in section["projects"])
    return [
        Problem(
            ("promotion", "projects"),
            f"{len(section['projects'])} project(s) with {lanes} lane(s) are not "
            "exported: the promotion's clean run executes notebooks in Docker containers, which is not available on "
            "Kubernetes yet; keep promoting from a Docker host or by hand",
        )
    ]


def secret_keys(config):
    """``{key: what to put there}`` for the Secret the values name (``hub.existingSecret``
    and the hub's ``GITLAB_CLIENT_SECRET``), from the secrets the hub needs on Docker."""
    keys = {}
    for var, why in secrets.required_env(config).items():
        if var == secrets.GITLAB_CLIENT_SECRET:
            keys[var] = why
        elif var == secrets.JUPYTERHUB_CRYPT_KEY:
            keys["hub.config.CryptKeeper.keys"] = f"the Docker hub's {var}: {why}"
        elif var == secrets.JUPYTERHUB_DB_PASSWORD:
            keys["hub.db.password"] = f"the Docker hub's {var}: {why}"
    return keys


def export(config, *, secret_name=SECRET_NAME, hub_image=HUB_IMAGE, base_dir=None):
    """``(values, problems)`` for the validated, defaults-filled admin ``config``; ``base_dir``:
    the admin YAML's folder (relative file paths in it, such as the package lock)."""
    problems = z2jh_rules.walk_problems(config)
    values = {
        "hub": hub_values(config, problems, secret_name=secret_name, hub_image=hub_image, base_dir=base_dir),
        "singleuser": singleuser_values(config, problems, base_dir),
        # Docker stops a server only after its profile's idle_timeout; the chart's culler
        # would stop every server idle for an hour
        "cull": {"enabled": False},
    }
    projects = Config()
    A.apply_workspace(config["workspace"], projects)
    values["custom"] = {CUSTOM_KEY: {"workspace_projects": plain(projects.ProfileSpawnerMixin.workspace_projects)}}
    problems += promotion_problems(config["promotion"])
    return values, problems
