"""Docker settings for one user's container: the resolved profile plus the hardening policy.

Pure: takes plain data, returns the keyword dicts that dockerspawner passes to docker-py
(``create_container`` and ``create_host_config``). Unit-tested without Docker.
"""

from dataclasses import dataclass, field

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
    read_only_rootfs: bool = False
    tmpfs: dict = field(default_factory=dict)


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
    if hardening.tmpfs:
        cfg["tmpfs"] = dict(hardening.tmpfs)
    return cfg


def create_kwargs(hardening):
    """``extra_create_kwargs`` for docker-py's create_container."""
    kwargs = {}
    if hardening.user:
        kwargs["user"] = hardening.user
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
