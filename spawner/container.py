"""Docker settings for one user's container: the resolved profile plus the hardening policy.

Pure: takes plain data, returns the keyword dicts that dockerspawner passes to docker-py
(``create_container`` and ``create_host_config``). Unit-tested without Docker.

:func:`merge_host_config` and :func:`merge_create_kwargs` put the admin's own
``extra_host_config``/``extra_create_kwargs`` (from ``jupyterhub_config.d`` or an
``apply_user_options``/``pre_spawn_hook`` of theirs) together with ours: an admin may add
(more dropped capabilities, a lower pids limit, a runtime, DNS, ulimits…) but never silently
remove hardening; a setting that would is refused with the reason.
"""

from dataclasses import dataclass

# Docker's default CPU weight; a guarantee of N CPUs becomes N * 1024 shares so that, under
# contention, containers get CPU time in proportion to what their profile guarantees.
CPU_SHARES_PER_CPU = 1024


@dataclass(frozen=True)
class Hardening:
    """The admin's hardening policy. Every field is overridable in the admin config."""

    user: str = "1000"
    no_new_privileges: bool = True
    cap_drop: tuple = ("ALL",)
    cap_add: tuple = ()
    default_pids_limit: int | None = 1024
    swap: bool = False  # False: memory+swap limit equals the memory limit (no swap)
    read_only_rootfs: bool = False  # the image's files read-only; /tmp becomes a tmpfs
    runtime: str | None = None  # an OCI runtime such as runsc (gVisor)


READ_ONLY_TMPFS = {"/tmp": "rw,nosuid,nodev,size=1g"}

# Labels on every user container: how `jupyterhub-ds doctor` and the hub's resource metrics
# find the users' containers (and whose they are) without knowing the name template.
USER_LABEL = "org.jupyterhub-ds.user"
PROFILE_LABEL = "org.jupyterhub-ds.profile"
SERVER_LABEL = "org.jupyterhub-ds.server"


def labels(user, profile, server=""):
    """The labels of one user's container: the hub user, the profile slug, the server name."""
    return {USER_LABEL: user, PROFILE_LABEL: profile, SERVER_LABEL: server}


def host_config(resolved, hardening):
    """``extra_host_config`` for docker-py's create_host_config.

    The CPU quota and memory limit themselves are set through dockerspawner's own
    ``cpu_limit``/``mem_limit`` traits; this adds what dockerspawner has no trait for.
    """
    cfg = {}
    if hardening.no_new_privileges:
        cfg["security_opt"] = ["no-new-privileges:true"]
    if hardening.cap_drop:
        cfg["cap_drop"] = list(hardening.cap_drop)
    if hardening.cap_add:
        cfg["cap_add"] = list(hardening.cap_add)
    pids = resolved.pids_limit if resolved.pids_limit is not None else hardening.default_pids_limit
    if pids is not None:
        cfg["pids_limit"] = int(pids)
    if resolved.mem_limit is not None and not hardening.swap:
        cfg["memswap_limit"] = int(resolved.mem_limit)
    if resolved.mem_guarantee is not None:
        cfg["mem_reservation"] = int(resolved.mem_guarantee)
    if resolved.cpu_guarantee is not None:
        cfg["cpu_shares"] = max(2, int(resolved.cpu_guarantee * CPU_SHARES_PER_CPU))
    if resolved.gpus:
        # docker-py's DeviceRequest is a dict subclass; plain dicts with the API's field
        # names are accepted by create_host_config as well.
        cfg["device_requests"] = [{"Driver": "", "Count": int(resolved.gpus), "Capabilities": [["gpu"]]}]
    if hardening.read_only_rootfs:
        cfg["read_only"] = True
        cfg["tmpfs"] = dict(READ_ONLY_TMPFS)
    if hardening.runtime:
        cfg["runtime"] = hardening.runtime
    return cfg


class HardeningConflict(ValueError):
    """An admin setting would weaken the hardening; the message names it and the fix."""


HOST_NAMESPACES = ("network_mode", "pid_mode", "ipc_mode", "userns_mode", "uts_mode", "cgroupns")
_FIX = (
    "remove it from extra_host_config (or relax the hardening section of the admin YAML, where check-config names it)"
)


def _limit(admin, ours):
    """The stricter of two limits (None/0/-1: no limit)."""
    admin = admin if isinstance(admin, int) and admin > 0 else None
    if ours is None:
        return admin
    return ours if admin is None else min(admin, ours)


def merge_host_config(admin: dict, ours: dict, hardening: Hardening) -> dict:
    """The admin's extra_host_config with ours on top, hardening kept (see the module docstring)."""
    admin = dict(admin or {})
    merged = {**admin, **ours}
    if admin.get("privileged"):
        raise HardeningConflict(f"extra_host_config privileged=True would give the container every capability; {_FIX}")
    for key in HOST_NAMESPACES:
        if str(admin.get(key, "")).startswith("host"):
            raise HardeningConflict(f"extra_host_config {key}={admin[key]!r} shares the host's namespace; {_FIX}")
    added = sorted(set(admin.get("cap_add") or ()) - set(hardening.cap_add))
    if added:
        raise HardeningConflict(
            f"extra_host_config cap_add={added} adds capabilities the hardening drops; list them "
            "in the admin YAML's hardening.cap_add instead (check-config names it as unsafe)"
        )
    options = list(admin.get("security_opt") or ())
    if hardening.no_new_privileges and any(o.replace("=", ":") in ("no-new-privileges:false",) for o in options):
        raise HardeningConflict(f"extra_host_config security_opt no-new-privileges:false; {_FIX}")
    if any(o.replace("=", ":").startswith(("seccomp:unconfined", "apparmor:unconfined")) for o in options):
        raise HardeningConflict(f"extra_host_config security_opt {options} turns a kernel filter off; {_FIX}")
    merged_options = options + [o for o in ours.get("security_opt", ()) if o not in options]
    if merged_options:
        merged["security_opt"] = merged_options
    drops = list(dict.fromkeys([*(ours.get("cap_drop") or ()), *(admin.get("cap_drop") or ())]))
    if drops:
        merged["cap_drop"] = drops
    for key in ("pids_limit", "memswap_limit"):
        value = _limit(admin.get(key), ours.get(key))
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if ours.get("read_only") or admin.get("read_only"):
        merged["read_only"] = True
    if ours.get("runtime") and admin.get("runtime") and admin["runtime"] != ours["runtime"]:
        raise HardeningConflict(
            f"extra_host_config runtime={admin['runtime']!r} differs from hardening.runtime "
            f"{ours['runtime']!r}; set one of them"
        )
    if admin.get("runtime") and not ours.get("runtime"):
        merged["runtime"] = admin["runtime"]  # an admin may add a runtime (e.g. runsc)
    return merged


def merge_create_kwargs(admin: dict, ours: dict) -> dict:
    """The admin's extra_create_kwargs with ours on top; the container's user is ours."""
    admin = dict(admin or {})
    if "user" in admin and "user" in ours and str(admin["user"]) != str(ours["user"]):
        raise HardeningConflict(
            f"extra_create_kwargs user={admin['user']!r} differs from the hardening's user "
            f"{ours['user']!r}; set hardening.user in the admin YAML instead"
        )
    return {**admin, **ours}


def create_kwargs(hardening, container_labels=None):
    """``extra_create_kwargs`` for docker-py's create_container (``container_labels``: :func:`labels`)."""
    kwargs = {}
    if hardening.user:
        kwargs["user"] = hardening.user
    if container_labels:
        kwargs["labels"] = dict(container_labels)
    return kwargs


def volumes(resolved, *, home_volume_template, home_mount, shared_mounts):
    """dockerspawner ``volumes``: the per-user home volume, shared data, then profile volumes.

    ``shared_mounts`` is a list of ``{"source", "target", "mode"}``; ``{username}`` in the home
    volume template is rendered by dockerspawner itself (escaped for Docker names).
    """
    vols = {}
    if home_volume_template:
        vols[home_volume_template] = {"bind": home_mount, "mode": "rw"}
    for mount in shared_mounts or ():
        vols[mount["source"]] = {"bind": mount["target"], "mode": mount.get("mode", "ro")}
    for source, spec in (resolved.volumes or {}).items():
        vols[source] = {"bind": spec["bind"], "mode": spec.get("mode", "ro")}
    return vols
