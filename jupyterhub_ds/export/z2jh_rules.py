"""Where each admin-YAML setting goes in the Z2JH values, and the walk that reports the rest.

``RULES`` maps a YAML path pattern (list indices as ``"*"``) to a ``Rule``; a rule covers
its whole subtree. ``walk_problems(config)`` walks the loaded YAML generically, so a key
that no rule names (one added to the admin YAML after this table was written) is reported
as not carried over rather than lost. Rule kinds:

- ``mapped``: ``z2jh.export`` writes it (``where`` names the values path); the builder
  itself reports values that have no equivalent (``gpus: -1``, ``pull_policy: never``...).
- ``docker-only``: no Kubernetes equivalent; reported when the value differs from the
  schema default (the default needs nothing on Kubernetes either).
- ``elsewhere``: not hub policy, nothing to carry (``images.build`` is read by
  ``jupyterhub-ds images build``); never reported.
"""

from dataclasses import dataclass

from ..config.problems import Problem, show
from ..config.schema import SCHEMA, resolve

MAPPED, DOCKER_ONLY, ELSEWHERE = "mapped", "docker-only", "elsewhere"
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Rule:
    kind: str
    where: str  # mapped: the values path(s); docker-only: the fix; elsewhere: why


def _m(where):
    return Rule(MAPPED, where)


def _docker(fix):
    return Rule(DOCKER_ONLY, fix)


PROFILE = "singleuser.profileList[].kubespawner_override"
HUB_AUTH = "hub.config.GitLabOAuthenticator / DSGitLabOAuthenticator / Authenticator"

RULES = {
    ("hub", "public_url"): _m("hub.config.JupyterHub.public_url, hub.config.GitLabOAuthenticator.oauth_callback_url"),
    ("hub", "bind"): _docker(
        "the chart's proxy-public Service takes the traffic; set proxy.service (type, port) or ingress "
        "for the address users reach"
    ),
    ("hub", "base_url"): _m("hub.baseUrl"),
    ("hub", "subdomain_host"): _m("hub.config.JupyterHub.subdomain_host (the ingress needs the wildcard host too)"),
    ("hub", "hub_bind_url"): _docker("the chart connects user pods to the hub through its hub Service"),
    ("hub", "hub_connect_ip"): _docker("the chart connects user pods to the hub through its hub Service"),
    ("hub", "single_origin_reason"): Rule(ELSEWHERE, "read by `jupyterhub-ds doctor`, not by the hub"),
    ("hub", "db_url"): _m("hub.db.type, hub.db.url (password: hub.db.password in the Secret)"),
    ("hub", "admin_users"): _m("hub.config.GitLabOAuthenticator.admin_users"),
    # applied by the project's own apply_gitlab / apply_auth / apply_metrics (see z2jh.hub_traits)
    ("gitlab",): _m(HUB_AUTH + " (client secret: env GITLAB_CLIENT_SECRET from the Secret)"),
    ("auth",): _m(HUB_AUTH + ", hub.loadRoles"),
    ("metrics",): _m("hub.authenticatePrometheus"),
    ("profiles", "*", "slug"): _m("singleuser.profileList[].slug"),
    ("profiles", "*", "display_name"): _m("singleuser.profileList[].display_name"),
    ("profiles", "*", "description"): _m("singleuser.profileList[].description"),
    ("profiles", "*", "default"): _m("singleuser.profileList[].default"),
    ("profiles", "*", "image"): _m(PROFILE + ".image"),
    ("profiles", "*", "images"): _m("singleuser.profileList[].profile_options.image.choices"),
    ("profiles", "*", "cpu_limit"): _m(PROFILE + ".cpu_limit"),
    ("profiles", "*", "mem_limit"): _m(PROFILE + ".mem_limit"),
    ("profiles", "*", "cpu_guarantee"): _m(PROFILE + ".cpu_guarantee"),
    ("profiles", "*", "mem_guarantee"): _m(PROFILE + ".mem_guarantee"),
    ("profiles", "*", "pids_limit"): _docker(
        "set the kubelet's podPidsLimit on the nodes that run user pods (it limits every pod there)"
    ),
    ("profiles", "*", "gpus"): _m(PROFILE + ".extra_resource_limits.nvidia.com/gpu"),
    ("profiles", "*", "volumes"): _m(PROFILE + ".volumes, .volume_mounts"),
    ("profiles", "*", "environment"): _m(PROFILE + ".environment"),
    ("profiles", "*", "allowed_groups"): _m("singleuser.profileList[].allowed_groups (enforced by hub.extraConfig)"),
    ("profiles", "*", "placement"): _m(
        PROFILE + ".node_selector (node.labels.KEY==VALUE; other constraints are reported)"
    ),
    ("profiles", "*", "idle_timeout"): _m(PROFILE + ".args (--ServerApp.shutdown_no_activity_timeout)"),
    ("images", "default"): _m("singleuser.image.name, singleuser.image.tag"),
    ("images", "allowed"): Rule(ELSEWHERE, "checked when the file is loaded: profiles name only allowed images"),
    ("images", "build"): Rule(ELSEWHERE, "read by `jupyterhub-ds images build`, not by the hub"),
    ("volumes", "home_volume"): _m("singleuser.storage.dynamic.pvcNameTemplate"),
    ("volumes", "home_mount"): _m("singleuser.storage.homeMountPath"),
    ("volumes", "shared"): _m("singleuser.storage.extraVolumes, singleuser.storage.extraVolumeMounts"),
    ("network", "name"): _docker("pods share the cluster network; singleuser.networkPolicy keeps them apart"),
    ("network", "encrypted"): _docker(
        "pod-to-pod encryption is the cluster network plugin's (e.g. WireGuard in Calico or Cilium), not the chart's"
    ),
    ("network", "containers_can_talk"): _m("singleuser.networkPolicy.ingress"),
    ("hardening", "user"): _m("singleuser.uid, hub.config.KubeSpawner.gid"),
    ("hardening", "no_new_privileges"): _m("singleuser.allowPrivilegeEscalation"),
    ("hardening", "cap_add"): _m("hub.config.KubeSpawner.container_security_context.capabilities.add"),
    ("hardening", "pids_limit"): _docker(
        "set the kubelet's podPidsLimit on the nodes that run user pods (it limits every pod there)"
    ),
    ("hardening", "allow_swap"): _docker("Kubernetes nodes run pods without swap unless the kubelet says otherwise"),
    ("hardening", "read_only_rootfs"): _m("hub.config.KubeSpawner.container_security_context.readOnlyRootFilesystem"),
    ("hardening", "runtime"): _m("hub.config.KubeSpawner.extra_pod_config.runtimeClassName"),
    ("spawner", "kind"): Rule(ELSEWHERE, "KubeSpawner replaces the Docker and Swarm spawners"),
    ("spawner", "start_timeout"): _m("singleuser.startTimeout"),
    ("spawner", "http_timeout"): _m("hub.config.KubeSpawner.http_timeout"),
    ("spawner", "remove_on_stop"): _docker(
        "KubeSpawner always deletes the pod when the server stops (the home PVC stays)"
    ),
    ("spawner", "pull_policy"): _m("singleuser.image.pullPolicy"),
    ("workspace", "directory"): _m("singleuser.extraEnv.JUPYTERHUB_DS_WORKSPACE_DIR"),
    ("workspace", "projects"): _m("custom.jupyterhub-ds.workspace_projects (used by hub.extraConfig)"),
    ("review",): _m("singleuser.extraEnv.JUPYTERHUB_DS_REVIEW_POLICY"),
    # reported as a whole by z2jh.promotion_problems when it has projects
    ("promotion",): _m("(not exported: reported when promotion.projects is not empty)"),
    ("audit",): _m("hub.config.AuditTrail.path (a path in the hub pod: put a persistent volume there)"),
    ("packages",): Rule(
        ELSEWHERE,
        "checked on images (`jupyterhub-ds packages check`, `images build --config`) and "
        "by promotion clean runs; its names also become the review's import allow-list",
    ),
}


def pattern(path):
    return tuple("*" if isinstance(p, int) else p for p in path)


def schema_default(path):
    """The schema's default at ``path``, or ``_NO_DEFAULT``."""
    node = SCHEMA
    for part in path:
        node = resolve(node)
        node = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
        if node is None:
            return _NO_DEFAULT
    return resolve(node).get("default", _NO_DEFAULT)


def walk(value, path=()):
    """``(path, value, rule)`` for each ruled subtree and each unruled leaf, in file order.
    Empty or null unruled leaves are skipped: nothing is set there, so nothing is lost."""
    rule = RULES.get(pattern(path)) if path else None
    if rule is not None:
        yield path, value, rule
    elif isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from walk(sub, path + (key,))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, sub in enumerate(value):
            yield from walk(sub, path + (index,))
    elif value not in (None, {}, []):
        yield path, value, None


def walk_problems(config):
    """A Problem for every setting of ``config`` that does not carry over by rule: unknown
    keys always, docker-only settings when they differ from the schema default."""
    problems = []
    for path, value, rule in walk(config):
        if rule is None:
            problems.append(
                Problem(
                    path,
                    f"{show(value)} is not carried over: the Kubernetes export does not know this setting yet; "
                    "set its equivalent in the values by hand (docs/kubernetes.md)",
                )
            )
        elif rule.kind == DOCKER_ONLY and value != schema_default(path) and value is not None:
            problems.append(Problem(path, f"{show(value)} has no Kubernetes equivalent; {rule.where}"))
    return problems
