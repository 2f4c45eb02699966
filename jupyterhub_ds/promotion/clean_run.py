"""The clean run: a project's notebooks at one commit in a fresh container of its pinned image.

What a promotion proves before a lane moves. Blocking docker-py code; the service calls :func:`execute` in an executor. The container:

- is created from the image's id (``sha256:…``, resolved from the pinned reference first and
  recorded with its RepoDigests), so what ran is exactly what the record names;
- gets the profile's limits (CPU, memory, pids, GPUs), and :data:`DEFAULT_LIMITS` for any the
  profile does not set (a project without a profile never runs unlimited on the hub's host),
  no network unless the project says so, no volumes but the project's data, read-only, all
  capabilities dropped, ``no-new-privileges``;
- receives the commit's tree, the runner (``clean_run_script.py``) and ``job.json`` through
  ``put_archive`` (files owned by the image's user so notebooks may write next to themselves);
- is always removed: after the run, on a timeout, on any error. Containers carry the label
  ``org.jupyterhub-ds.promotion.run=<run id>`` so a restarted service removes leftovers.

What is read back from the container is written by the notebooks, so it is bounded: the
output archive (:data:`MAX_OUTPUT_BYTES`, and no links or device files), ``result.json``
(:data:`MAX_RESULT_BYTES`) and the log tail (:data:`MAX_LOG_BYTES`).
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RUN_LABEL = "org.jupyterhub-ds.promotion.run"
RUN_DIR = "/tmp/jupyterhub-ds-run"
SCRIPT = Path(__file__).with_name("clean_run_script.py")
LOG_TAIL_LINES = 200
MAX_LOG_BYTES = 64 * 1024
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
MAX_RESULT_BYTES = 16 * 1024 * 1024
GiB = 1024**3
# limits of every clean run whose project's profile does not set them
DEFAULT_LIMITS = {"cpu_limit": 2.0, "mem_limit": 4 * GiB, "pids_limit": 1024}


class OutputTooLarge(Exception):
    pass


log = logging.getLogger("jupyterhub_ds.promotion.clean_run")


@dataclass
class CleanRunJob:
    run_id: str
    image: str
    notebooks: list
    parameters: dict
    seed: int
    cell_timeout: int
    network: bool
    limits: dict
    run_timeout: float
    artifacts_dir: Path  # executed notebooks and result.json land here
    default_limits: dict | None = None  # None: DEFAULT_LIMITS
    volumes: tuple = ()  # ({"source", "target"}, ...): the project's data, mounted read-only
    run_tests: bool = True  # False: the notebooks only (a review run), the project's tests are "skipped"

    @classmethod
    def for_project(cls, project, run_id, artifacts_dir, *, notebooks=None, **kwargs):
        """The job of a run of ``project`` (its image, parameters, seed, timeouts, limits and
        volumes); ``notebooks`` None: the project's notebooks. ``kwargs``: the other fields."""
        return cls(
            run_id=run_id,
            image=project.image,
            notebooks=list(project.notebooks if notebooks is None else notebooks),
            parameters=dict(project.parameters),
            seed=project.seed,
            cell_timeout=project.cell_timeout,
            network=project.network,
            limits=dict(project.limits),
            artifacts_dir=Path(artifacts_dir),
            volumes=tuple(project.volumes),
            **kwargs,
        )


@dataclass
class CleanRunOutcome:
    image_id: str = ""
    image_digest: str = ""
    notebooks: list = field(default_factory=list)
    tests: dict = field(default_factory=dict)
    installed: list = field(default_factory=list)
    imports: list = field(default_factory=list)
    exit_code: int | None = None
    error: str = ""  # the run itself could not start or finish (image missing, timeout, crash)
    log_tail: str = ""
    container_removed: bool = False


def _owned(info, uid, gid):
    info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
    return info


def _add_bytes(tar, name, data, uid, gid, mode=0o644):
    info = _owned(tarfile.TarInfo(name), uid, gid)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar, name, uid, gid):
    info = _owned(tarfile.TarInfo(name), uid, gid)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    tar.addfile(info)


def run_archive(source_tar, job_json, uid, gid):
    """One tar for ``put_archive`` at /tmp: ``jupyterhub-ds-run/{run.py,job.json,out/,src/…}``,
    everything owned by ``uid:gid``. ``source_tar`` is ``git archive`` output of the commit."""
    base = RUN_DIR.rsplit("/", 1)[1]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for d in (base, f"{base}/out", f"{base}/src"):
            _add_dir(out, d, uid, gid)
        _add_bytes(out, f"{base}/run.py", SCRIPT.read_bytes(), uid, gid)
        _add_bytes(out, f"{base}/job.json", json.dumps(job_json).encode(), uid, gid)
        with tarfile.open(fileobj=io.BytesIO(source_tar), mode="r") as src:
            for member in src.getmembers():
                if member.name in ("pax_global_header",) or member.type == tarfile.XGLTYPE:
                    continue
                name = f"{base}/src/{member.name.lstrip('./')}".rstrip("/")
                if ".." in Path(member.name).parts or member.name.startswith("/"):
                    raise ValueError(f"refusing path {member.name!r} in the commit's archive")
                new = _owned(tarfile.TarInfo(name), uid, gid)
                new.type, new.mode, new.mtime, new.linkname = member.type, member.mode, member.mtime, member.linkname
                new.size = member.size if member.isfile() else 0
                out.addfile(new, src.extractfile(member) if member.isfile() else None)
    return buf.getvalue()


def _user_ids(image):
    """uid/gid the image runs as ("1000:100", "1000", "" -> root)."""
    user = (image.attrs.get("Config") or {}).get("User") or "0"
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return 1000, 100  # a user name: the single-user image convention (jovyan, group users)
    if gid:
        return int(uid), int(gid)
    return int(uid), (100 if int(uid) else 0)


def effective_limits(limits, defaults=None):
    """The project's limits, with ``defaults`` (DEFAULT_LIMITS) for those it leaves unset (pure)."""
    defaults = DEFAULT_LIMITS if defaults is None else defaults
    chosen = {k: v for k, v in (limits or {}).items() if v}
    return {**{k: v for k, v in defaults.items() if v}, **chosen}


def container_options(job, image_id):
    """The create() keyword arguments: limits, isolation, no volumes (pure)."""
    limits = effective_limits(job.limits, job.default_limits)
    host = {
        "network_mode": "bridge" if job.network else "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "labels": {RUN_LABEL: job.run_id},
        "environment": {
            "PYTHONHASHSEED": str(job.seed),
            "JUPYTERHUB_DS_SEED": str(job.seed),
            "JUPYTERHUB_DS_CLEAN_RUN": "1",
        },
        "command": ["python", f"{RUN_DIR}/run.py", f"{RUN_DIR}/job.json"],
        "working_dir": RUN_DIR,
        "name": f"jupyterhub-ds-clean-run-{job.run_id}",
        "detach": True,
    }
    if limits.get("cpu_limit"):
        host["nano_cpus"] = int(float(limits["cpu_limit"]) * 1e9)
    if limits.get("mem_limit"):
        host["mem_limit"] = int(limits["mem_limit"])
        host["memswap_limit"] = int(limits["mem_limit"])
    if limits.get("pids_limit"):
        host["pids_limit"] = int(limits["pids_limit"])
    if job.volumes:
        host["volumes"] = {v["source"]: {"bind": v["target"], "mode": "ro"} for v in job.volumes}
    if limits.get("gpus"):
        import docker.types

        host["device_requests"] = [docker.types.DeviceRequest(count=int(limits["gpus"]), capabilities=[["gpu"]])]
    return {"image": image_id, **host}


def read_bounded(chunks, limit, what):
    """Join a stream of byte chunks, refusing more than ``limit`` bytes."""
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise OutputTooLarge(
                f"{what} is larger than {limit // (1024 * 1024)} MiB; write less output (or fewer "
                "files) from the notebooks"
            )
        out.append(chunk)
    return b"".join(out)


def _read_outputs(container, artifacts_dir):
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    stream, _ = container.get_archive(f"{RUN_DIR}/out")
    data = read_bounded(stream, MAX_OUTPUT_BYTES, "the run's output folder")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        # regular files and folders only; the "data" filter also refuses paths out of the folder
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        tar.extractall(artifacts_dir, members=members, filter="data")
    result = artifacts_dir / "out" / "result.json"
    if not result.is_file():
        return None
    if result.stat().st_size > MAX_RESULT_BYTES:
        raise OutputTooLarge(f"the clean run's result.json is larger than {MAX_RESULT_BYTES // (1024 * 1024)} MiB")
    return json.loads(result.read_text())


def log_tail(container):
    """The last lines of the container's log, at most MAX_LOG_BYTES (the end is kept)."""
    raw = container.logs(tail=LOG_TAIL_LINES, stream=True, follow=False)
    kept = b""
    for chunk in raw:
        kept = (kept + chunk)[-MAX_LOG_BYTES:]
    return "\n".join(kept.decode(errors="replace").splitlines())


def remove_container(container):
    try:
        container.remove(force=True)
        return True
    except Exception as e:  # already gone is fine; anything else is logged
        if getattr(e, "status_code", None) == 404:
            return True
        log.warning("could not remove clean-run container %s: %s", container.name, e)
        return False


def remove_leftovers(client, run_id=None):
    """Remove clean-run containers left by a killed service (all, or those of ``run_id``)."""
    label = RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"
    removed = []
    for container in client.containers.list(all=True, filters={"label": label}):
        if remove_container(container):
            removed.append(container.name)
    return removed


def _read_result(container, job, outcome):
    try:
        result = _read_outputs(container, job.artifacts_dir)
    except OutputTooLarge as e:
        outcome.error = str(e)
        return
    if result is None:
        outcome.error = f"the clean run's runner exited {outcome.exit_code} without a result (see the log tail)"
        return
    outcome.notebooks, outcome.tests = result["notebooks"], result["tests"]
    outcome.installed, outcome.imports = result["installed"], result["imports"]
    if outcome.exit_code == 137:
        outcome.error = "the clean-run container was killed (out of memory? exit 137)"


def execute(client, job, source_tar, stopping=None):
    """Do the clean run; never raises for a failing notebook, returns a :class:`CleanRunOutcome`.

    ``stopping`` (a ``threading.Event``): set when the service stops, which then removes the
    containers of unfinished runs; one created meanwhile is removed here instead of run."""
    import docker.errors
    import requests.exceptions

    outcome = CleanRunOutcome()
    try:
        image = client.images.get(job.image)
    except docker.errors.ImageNotFound:
        outcome.error = f"image {job.image!r} is not on this Docker host; pull or build it (the project's pinned image)"
        return outcome
    outcome.image_id = image.id
    outcome.image_digest = (image.attrs.get("RepoDigests") or [image.id])[0]
    uid, gid = _user_ids(image)
    job_json = {
        "notebooks": list(job.notebooks),
        "parameters": job.parameters,
        "seed": job.seed,
        "cell_timeout": job.cell_timeout,
        "src": f"{RUN_DIR}/src",
        "out": f"{RUN_DIR}/out",
        "tests": job.run_tests,
    }
    archive = run_archive(source_tar, job_json, uid, gid)
    remove_leftovers(client, job.run_id)
    container = client.containers.create(**container_options(job, image.id))
    try:
        if stopping is not None and stopping.is_set():
            outcome.error = "the promotion service stopped before the clean run started; the next start runs it again"
            return outcome
        container.put_archive("/tmp", archive)
        container.start()
        try:
            status = container.wait(timeout=job.run_timeout)
            outcome.exit_code = status.get("StatusCode")
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            outcome.error = (
                f"the clean run did not finish within run_timeout={job.run_timeout:.0f}s; the container "
                "was killed (raise PromotionService.run_timeout or speed up the notebooks)"
            )
        try:
            outcome.log_tail = log_tail(container)
            if not outcome.error:
                _read_result(container, job, outcome)
        except docker.errors.APIError as e:  # 404/409: removed (or dying) under us
            outcome.error = (
                f"the clean-run container {container.name} was removed before its results were read "
                f"({e.explanation or e}); is another promotion service cleaning this Docker host?"
            )
    finally:
        outcome.container_removed = remove_container(container)
    return outcome
