"""Swarm service settings for one user's server: the resolved profile plus the hardening policy.

Pure (no docker import): takes plain data and returns the plain dicts that
``swarm.ProfileSwarmSpawner`` hands to docker-py (``ContainerSpec`` keyword arguments, the
engine API's ``Resources``, ``Mount`` keyword arguments, placement constraints). Unit-tested
without Docker.

A Swarm service cannot carry everything a container can. ``SWARM_PARITY`` says, for every
option of the admin YAML's ``hardening:`` section and every setting ``container.host_config()``
produces, what happens on Swarm: *applied* (the service spec carries it), *another way*
(the same effect by other means, said how) or *refused* (``jupyterhub-ds check-config``
refuses the file with the reason: ``jupyterhub_ds.config.semantic.check_swarm``). Nothing is
silently lost; docs/scale-out.md prints the table.

The ``merge_*`` functions put the admin's own ``extra_container_spec``, ``extra_resources_spec``,
``extra_placement_spec``, ``extra_task_spec`` and ``extra_create_kwargs`` together with ours,
like ``container.merge_host_config`` does for containers: an admin may add, never silently
remove hardening; a setting that would is refused with the reason (``HardeningConflict``).
"""

from dataclasses import dataclass

from .container import READ_ONLY_TMPFS, HardeningConflict

# The server command runs under util-linux's setpriv (in every Debian-based image, ours
# included): Swarm's ContainerSpec has no no-new-privileges option before engine API 1.46,
# so the flag is set on the server process itself and every process it starts inherits it.
NO_NEW_PRIVS = ("setpriv", "--no-new-privs", "--")
# The Swarm generic resource a node advertises for its GPUs (daemon.json
# "node-generic-resources": ["NVIDIA-GPU=<uuid>", ...]), as in Docker's documentation.
GPU_RESOURCE = "NVIDIA-GPU"
# /tmp of a read-only root file system: the same size as on ds-docker (container.READ_ONLY_TMPFS)
TMPFS_TARGET = "/tmp"
TMPFS_SIZE = 1024**3
assert READ_ONLY_TMPFS == {TMPFS_TARGET: "rw,nosuid,nodev,size=1g"}, "keep the Swarm /tmp like the container's"

APPLIED, ANOTHER_WAY, REFUSED = "applied", "another way", "refused"


@dataclass(frozen=True)
class Parity:
    """One setting: what ds-docker does with it, and what ds-swarm does (``APPLIED``,
    ``ANOTHER_WAY`` or ``REFUSED``) and how."""

    setting: str
    container: str
    swarm: str
    how: str


SWARM_PARITY = (
    Parity("hardening.user", "container user", APPLIED, "ContainerSpec.User"),
    Parity(
        "hardening.no_new_privileges",
        "security_opt no-new-privileges:true",
        ANOTHER_WAY,
        "the server command runs under `setpriv --no-new-privs` (util-linux, in the image): the "
        "server and every process it starts (kernels, terminals) have NoNewPrivs set; Swarm has no "
        "such option before engine API 1.46",
    ),
    Parity("hardening.cap_add", "cap_add", APPLIED, "ContainerSpec.CapabilityAdd (engine API 1.41)"),
    Parity("cap_drop (ALL)", "cap_drop", APPLIED, "ContainerSpec.CapabilityDrop (engine API 1.41)"),
    Parity(
        "hardening.pids_limit, profiles[].pids_limit",
        "pids_limit",
        APPLIED,
        "Resources.Limits.Pids (engine API 1.41; docker-py has no argument for it, the spawner sets the field)",
    ),
    Parity(
        "hardening.allow_swap: false",
        "memswap_limit = mem_limit",
        REFUSED,
        "Swarm cannot set a memory+swap limit: the engine gives a task as much swap as its memory "
        "limit. check-config asks for allow_swap: true (named as unsafe) after swap is turned off on the nodes",
    ),
    Parity(
        "hardening.read_only_rootfs",
        "read_only + /tmp tmpfs (rw,nosuid,nodev,size=1g)",
        APPLIED,
        "ContainerSpec.ReadOnly + a 1 GiB tmpfs mount on /tmp (Swarm mounts it rw,nosuid,nodev,noexec)",
    ),
    Parity(
        "hardening.runtime",
        "runtime",
        REFUSED,
        "a service cannot choose an OCI runtime: set default-runtime in every node's daemon.json and "
        "remove hardening.runtime",
    ),
    Parity("profiles[].cpu_limit", "CPU quota (dockerspawner)", APPLIED, "Resources.Limits.NanoCPUs"),
    Parity("profiles[].mem_limit", "memory limit (dockerspawner)", APPLIED, "Resources.Limits.MemoryBytes"),
    Parity(
        "profiles[].mem_guarantee",
        "mem_reservation (soft limit)",
        ANOTHER_WAY,
        "Resources.Reservations.MemoryBytes: the scheduler places the server only on a node with that "
        "much memory unreserved; the engine sets no soft limit",
    ),
    Parity(
        "profiles[].cpu_guarantee",
        "cpu_shares (weight under contention)",
        ANOTHER_WAY,
        "Resources.Reservations.NanoCPUs: the scheduler never reserves more CPUs on a node than it has; "
        "the CPU weight stays the engine's default (1024)",
    ),
    Parity(
        "profiles[].gpus: N",
        "device_requests (N GPUs)",
        ANOTHER_WAY,
        f"a reservation of N {GPU_RESOURCE} generic resources: only nodes that advertise them "
        "(daemon.json node-generic-resources, with the NVIDIA runtime as their default) take the server; "
        "engine 20.10 stops such a server when its node is updated (docs/scale-out.md)",
    ),
    Parity(
        "profiles[].gpus: -1",
        "device_requests (all GPUs)",
        REFUSED,
        "Swarm reserves GPUs by count only: give the number",
    ),
    Parity(
        "network.containers_can_talk: false",
        "bridge network with inter-container traffic off",
        REFUSED,
        "an overlay network has no switch for inter-container traffic: check-config asks for "
        "containers_can_talk: true (named as unsafe); each server still needs its JupyterHub token",
    ),
    Parity(
        "admin extra_host_config",
        "merged (container.merge_host_config)",
        REFUSED,
        "a service has no host config: the spawner refuses to start while it is set; use "
        "extra_container_spec / extra_resources_spec (merged the same way)",
    ),
)


# each key container.host_config() can produce -> its row above
HOST_CONFIG_PARITY = {
    "security_opt": "hardening.no_new_privileges",
    "cap_drop": "cap_drop (ALL)",
    "cap_add": "hardening.cap_add",
    "pids_limit": "hardening.pids_limit, profiles[].pids_limit",
    "memswap_limit": "hardening.allow_swap: false",
    "mem_reservation": "profiles[].mem_guarantee",
    "cpu_shares": "profiles[].cpu_guarantee",
    "device_requests": "profiles[].gpus: N",
    "read_only": "hardening.read_only_rootfs",
    "tmpfs": "hardening.read_only_rootfs",
    "runtime": "hardening.runtime",
}


# ---- the service spec ------------------------------------------------------------------


class ServiceSpecError(ValueError):
    """A profile setting Swarm cannot carry (check-config refuses it before the hub starts)."""


def container_spec(command, hardening):
    """ContainerSpec keyword arguments besides image, env and mounts: the server command
    (wrapped for no-new-privileges), the user, capabilities, read-only root."""
    args = [*NO_NEW_PRIVS, *command] if hardening.no_new_privileges else list(command)
    spec = {"args": args}
    if hardening.user:
        spec["user"] = hardening.user
    if hardening.cap_drop:
        spec["cap_drop"] = list(hardening.cap_drop)
    if hardening.cap_add:
        spec["cap_add"] = list(hardening.cap_add)
    if hardening.read_only_rootfs:
        spec["read_only"] = True
    return spec


def resources(resolved, hardening):
    """The task's ``Resources`` as the engine API spells them: limits and reservations."""
    limits, reservations = {}, {}
    if resolved.cpu_limit is not None:
        limits["NanoCPUs"] = int(resolved.cpu_limit * 1e9)
    if resolved.mem_limit is not None:
        limits["MemoryBytes"] = int(resolved.mem_limit)
    pids = resolved.pids_limit if resolved.pids_limit is not None else hardening.default_pids_limit
    if pids is not None:
        limits["Pids"] = int(pids)
    if resolved.cpu_guarantee is not None:
        reservations["NanoCPUs"] = int(resolved.cpu_guarantee * 1e9)
    if resolved.mem_guarantee is not None:
        reservations["MemoryBytes"] = int(resolved.mem_guarantee)
    if resolved.gpus == -1:
        raise ServiceSpecError(
            f"profile {resolved.slug!r} asks for all GPUs (gpus: -1), which Swarm cannot "
            "reserve; give the number of GPUs"
        )
    if resolved.gpus:
        reservations["GenericResources"] = [
            {"DiscreteResourceSpec": {"Kind": GPU_RESOURCE, "Value": int(resolved.gpus)}}
        ]
    out = {}
    if limits:
        out["Limits"] = limits
    if reservations:
        out["Reservations"] = reservations
    return out


def mounts(volumes, hardening):
    """dockerspawner ``volumes`` (``{source: {"bind", "mode"}}``, names already rendered) ->
    ``Mount`` keyword arguments: absolute paths are bind mounts (the path must exist on the
    node), anything else a named volume on the node; plus /tmp for a read-only root."""
    out = []
    for source, spec in volumes.items():
        kind = "bind" if source.startswith("/") else "volume"
        out.append({"target": spec["bind"], "source": source, "type": kind, "read_only": spec.get("mode") == "ro"})
    if hardening.read_only_rootfs:
        out.append({"target": TMPFS_TARGET, "source": None, "type": "tmpfs", "tmpfs_size": TMPFS_SIZE})
    return out


def constraints(resolved, home_node=None):
    """Placement constraints: the profile's, and the node that holds the user's home volume."""
    out = list(resolved.placement)
    if home_node:
        out.append(f"node.id=={home_node}")
    return out


# ---- the admin's extra_* settings merged with ours -----------------------------------------

_FIX = "remove it (or relax the hardening section of the admin YAML, where check-config names it)"
# set by the spawner from the profile, the server command, the environment and the volumes
OWNED_CONTAINER_KEYS = ("image", "command", "args", "env", "mounts")
OWNED_TASK_KEYS = {
    "container_spec": "extra_container_spec",
    "resources": "extra_resources_spec",
    "placement": "extra_placement_spec",
    "networks": "network.name in the admin YAML",
}
OWNED_CREATE_KEYS = ("task_template", "name", "mode", "endpoint_spec")


def merge_container_spec(admin, ours, hardening):
    """The admin's extra_container_spec with ours on top, hardening kept."""
    admin = dict(admin or {})
    for key in OWNED_CONTAINER_KEYS:
        if key in admin:
            raise HardeningConflict(
                f"extra_container_spec {key} is the spawner's (profile image, server command, "
                "environment, volumes); set it through the admin YAML or Spawner.environment"
            )
    if "user" in admin and "user" in ours and str(admin["user"]) != str(ours["user"]):
        raise HardeningConflict(
            f"extra_container_spec user={admin['user']!r} differs from the hardening's user "
            f"{ours['user']!r}; set hardening.user in the admin YAML instead"
        )
    added = sorted(set(admin.get("cap_add") or ()) - set(hardening.cap_add))
    if added:
        raise HardeningConflict(
            f"extra_container_spec cap_add={added} adds capabilities the hardening drops; list "
            "them in the admin YAML's hardening.cap_add instead (check-config names it as unsafe)"
        )
    if ours.get("read_only") and admin.get("read_only") is False:
        raise HardeningConflict(f"extra_container_spec read_only=False undoes hardening.read_only_rootfs; {_FIX}")
    selinux = (admin.get("privileges") or {}).get("SELinuxContext") or {}
    if selinux.get("Disable"):
        raise HardeningConflict(f"extra_container_spec privileges disables SELinux labelling; {_FIX}")
    merged = {**admin, **ours}
    drops = list(dict.fromkeys([*(ours.get("cap_drop") or ()), *(admin.get("cap_drop") or ())]))
    if drops:
        merged["cap_drop"] = drops
    if admin.get("read_only"):
        merged["read_only"] = True
    return merged


_RESOURCE_KWARGS = {
    "cpu_limit": ("Limits", "NanoCPUs"),
    "mem_limit": ("Limits", "MemoryBytes"),
    "cpu_reservation": ("Reservations", "NanoCPUs"),
    "mem_reservation": ("Reservations", "MemoryBytes"),
}


def merge_resources(admin, ours):
    """The admin's extra_resources_spec (docker-py ``Resources`` keyword arguments) with ours:
    the stricter limit, the larger reservation."""
    merged = {k: dict(v) for k, v in ours.items()}
    for key, value in (admin or {}).items():
        if key == "generic_resources":
            raise HardeningConflict("extra_resources_spec generic_resources: GPUs come from the profile's gpus")
        if key not in _RESOURCE_KWARGS:
            raise HardeningConflict(
                f"extra_resources_spec {key!r} is not a Resources argument; use one of {', '.join(_RESOURCE_KWARGS)}"
            )
        if not isinstance(value, int) or value <= 0:
            continue
        section, field = _RESOURCE_KWARGS[key]
        current = merged.setdefault(section, {}).get(field)
        if current is None:
            merged[section][field] = value
        else:
            merged[section][field] = min(current, value) if section == "Limits" else max(current, value)
    return merged


def merge_placement(admin, ours_constraints):
    """The admin's extra_placement_spec (docker-py ``Placement`` keyword arguments) with our
    constraints added to theirs."""
    merged = dict(admin or {})
    merged["constraints"] = list(dict.fromkeys([*(merged.get("constraints") or ()), *ours_constraints])) or None
    return merged


def check_task_and_create_kwargs(task, create):
    """The admin's extra_task_spec and extra_create_kwargs may not replace what the spawner builds."""
    for key, instead in OWNED_TASK_KEYS.items():
        if key in (task or {}):
            raise HardeningConflict(f"extra_task_spec {key} replaces the spawner's; use {instead}")
    for key in OWNED_CREATE_KEYS:
        if key in (create or {}):
            raise HardeningConflict(f"extra_create_kwargs {key} replaces the spawner's service; remove it")
