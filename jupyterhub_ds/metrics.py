"""The hub's own jupyterhub-ds metrics, on JupyterHub's ``/hub/metrics`` (behind ``read:metrics``).

They live in prometheus_client's default registry, which is the one JupyterHub serves, next to
JupyterHub's own ``jupyterhub_*`` metrics. Every label takes its values from a closed set the
admin controls (profile slugs of the admin YAML, outcomes, gate names), never from what a user
types, so no user can grow the number of series:

===============================================  ==========================  =====================================
metric                                           labels                      source
===============================================  ==========================  =====================================
``jupyterhub_ds_spawns_total``                   profile, outcome            the spawner and JupyterHub's events
``jupyterhub_ds_spawn_duration_seconds``         profile, outcome            start to answering (or failing)
``jupyterhub_ds_running_servers``                profile                     Docker: running user containers
``jupyterhub_ds_cpu_usage_cores``                profile                     Docker stats, summed per profile
``jupyterhub_ds_cpu_limit_cores``                profile                     the containers' CPU limits, summed
``jupyterhub_ds_memory_usage_bytes``             profile                     Docker stats (without page cache)
``jupyterhub_ds_memory_limit_bytes``             profile                     the containers' memory limits, summed
``jupyterhub_ds_container_stats_timestamp_seconds``                          the last complete Docker stats read
``jupyterhub_ds_review_submissions_total``       outcome                     users' servers, through the hub
``jupyterhub_ds_review_gate_refusals_total``     gate                        users' servers, through the hub
``jupyterhub_ds_review_mr_latency_seconds``                                  users' servers, through the hub
``jupyterhub_ds_server_events_refused_total``    reason                      the hub's events endpoint
===============================================  ==========================  =====================================

The promotion service serves its own (``jupyterhub_ds.promotion.observe``). The Docker stats are
read by :class:`ContainerStats` on a timer in the hub, bounded in containers and time, and the
gauges keep the last complete reading between two reads. The pure parts (:func:`aggregate`,
:func:`cpu_cores`, :func:`memory_in_use`, :func:`limits_of`, :class:`SpawnTracker`) take and
give plain data.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram
from traitlets import Dict, Float, Int
from traitlets.config import LoggingConfigurable

from .spawner.container import PROFILE_LABEL, USER_LABEL  # on every user container

SPAWN_OUTCOMES = ("success", "failure")
SUBMISSION_OUTCOMES = ("submitted", "refused", "failed")
GATES = ("paired", "no_outputs", "secrets", "size", "syntax", "packages")  # extensions/review/gates.py
UNKNOWN_PROFILE = "unknown"

SPAWNS = Counter("jupyterhub_ds_spawns", "User server spawns, by profile and outcome", ["profile", "outcome"])
SPAWN_DURATION = Histogram(
    "jupyterhub_ds_spawn_duration_seconds",
    "From the spawner's start to the server answering (or failing)",
    ["profile", "outcome"],
    buckets=(1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, float("inf")),
)
RUNNING = Gauge("jupyterhub_ds_running_servers", "Running user containers, by profile", ["profile"])
CPU_USAGE = Gauge("jupyterhub_ds_cpu_usage_cores", "CPU in use by user containers (cores), by profile", ["profile"])
CPU_LIMIT = Gauge("jupyterhub_ds_cpu_limit_cores", "Sum of the CPU limits of running user containers", ["profile"])
MEMORY_USAGE = Gauge(
    "jupyterhub_ds_memory_usage_bytes", "Memory in use by user containers (without page cache)", ["profile"]
)
MEMORY_LIMIT = Gauge(
    "jupyterhub_ds_memory_limit_bytes", "Sum of the memory limits of running user containers", ["profile"]
)
STATS_TIME = Gauge(
    "jupyterhub_ds_container_stats_timestamp_seconds", "Unix time of the last complete Docker stats read"
)
SUBMISSIONS = Counter(
    "jupyterhub_ds_review_submissions", "Submissions for review reported by users' servers, by outcome", ["outcome"]
)
GATE_REFUSALS = Counter("jupyterhub_ds_review_gate_refusals", "Submissions refused, by the gate that refused", ["gate"])
MR_LATENCY = Histogram(
    "jupyterhub_ds_review_mr_latency_seconds",
    "From a submit to its merge request being there",
    buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, float("inf")),
)
SERVER_EVENTS_REFUSED = Counter(
    "jupyterhub_ds_server_events_refused", "Events from users' servers the hub refused, by reason", ["reason"]
)

for _outcome in SUBMISSION_OUTCOMES:  # every series exists from the start (rates and alerts need them)
    SUBMISSIONS.labels(_outcome)
for _gate in GATES:
    GATE_REFUSALS.labels(_gate)
for _reason in ("invalid", "too_large", "rate_limited"):
    SERVER_EVENTS_REFUSED.labels(_reason)


def declare_profiles(slugs):
    """Make the spawn series of every configured profile exist at 0."""
    for slug in slugs:
        for outcome in SPAWN_OUTCOMES:
            SPAWNS.labels(slug, outcome)


# ---- spawns ---------------------------------------------------------------------------------


@dataclass
class SpawnTracker:
    """Spawns between the spawner's start and their end: answered (success), or stopped before
    answering (failure). Keys are ``(user, server name)``; each key holds its latest spawn only."""

    clock: object = time.monotonic
    pending: dict = field(default_factory=dict)
    running: dict = field(default_factory=dict)

    def starting(self, key, info):
        self.running.pop(key, None)
        self.pending[key] = (self.clock(), info)

    def answered(self, key):
        """-> (info, seconds) of the spawn that just succeeded, or None (not ours, or counted)."""
        if key not in self.pending:
            return None
        started, info = self.pending.pop(key)
        self.running[key] = (started, info)
        return info, self.clock() - started

    def stopped(self, key):
        """-> ("failure" | "stop", info, seconds) or None when the server is not known here
        (a hub restarted since it started)."""
        if key in self.pending:
            started, info = self.pending.pop(key)
            return "failure", info, self.clock() - started
        if key in self.running:
            started, info = self.running.pop(key)
            return "stop", info, self.clock() - started
        return None


TRACKER = SpawnTracker()


def record_spawn(profile, outcome, seconds):
    SPAWNS.labels(profile or UNKNOWN_PROFILE, outcome).inc()
    SPAWN_DURATION.labels(profile or UNKNOWN_PROFILE, outcome).observe(max(0.0, seconds))


# ---- submissions (reported by servers, validated by the hub) ----------------------------------


MAX_LATENCY = 3600.0


def record_review_event(event):
    """Count one validated review event. Its action and gates come from closed sets (the
    schema's enums) and the latency is clamped, so a server can only add to its own counts."""
    action = event["action"]
    if action == "review.submit":
        SUBMISSIONS.labels("submitted").inc()
        if "latency_seconds" in event:
            MR_LATENCY.observe(min(max(float(event["latency_seconds"]), 0.0), MAX_LATENCY))
    elif action == "review.refused":
        SUBMISSIONS.labels("refused").inc()
        for gate in sorted(set(event.get("gates") or ()) & set(GATES)):
            GATE_REFUSALS.labels(gate).inc()
    elif action == "review.failed":
        SUBMISSIONS.labels("failed").inc()


# ---- Docker stats of the user containers -------------------------------------------------------


def limits_of(inspect):
    """``(cpu cores, memory bytes)`` limits of a ``docker inspect`` answer (None: unlimited)."""
    host = inspect.get("HostConfig") or {}
    cpus = None
    if host.get("NanoCpus"):
        cpus = host["NanoCpus"] / 1e9
    elif host.get("CpuQuota", 0) > 0 and host.get("CpuPeriod"):
        cpus = host["CpuQuota"] / host["CpuPeriod"]
    return cpus, (host.get("Memory") or None)


def memory_in_use(stats):
    """Memory a container uses, as ``docker stats`` shows it: usage without the inactive page cache."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    detail = memory.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0  # cgroup v2, v1
    return usage - cache if cache < usage else usage


def cpu_sample(stats, now):
    """``(cumulative CPU ns, wall ns)`` of a one-shot stats answer, or None."""
    total = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    return None if total is None else (total, int(now * 1e9))


def cpu_cores(previous, current):
    """Cores in use between two samples of one container (None without an earlier sample)."""
    if previous is None or current is None or current[1] <= previous[1] or current[0] < previous[0]:
        return None
    return (current[0] - previous[0]) / (current[1] - previous[1])


def aggregate(containers):
    """Per profile: ``{"running", "cpu_usage", "cpu_limit", "memory_usage", "memory_limit"}`` summed
    over ``containers`` (dicts with ``profile`` and those values; None counts as 0)."""
    totals = {}
    for c in containers:
        row = totals.setdefault(
            c.get("profile") or UNKNOWN_PROFILE,
            dict.fromkeys(("running", "cpu_usage", "cpu_limit", "memory_usage", "memory_limit"), 0),
        )
        row["running"] += 1
        for key in ("cpu_usage", "cpu_limit", "memory_usage", "memory_limit"):
            row[key] += c.get(key) or 0
    return totals


def publish(totals, when):
    """Set the gauges to ``totals`` (profiles gone since the last read disappear)."""
    for gauge in (RUNNING, CPU_USAGE, CPU_LIMIT, MEMORY_USAGE, MEMORY_LIMIT):
        gauge.clear()
    for profile, row in totals.items():
        RUNNING.labels(profile).set(row["running"])
        CPU_USAGE.labels(profile).set(row["cpu_usage"])
        CPU_LIMIT.labels(profile).set(row["cpu_limit"])
        MEMORY_USAGE.labels(profile).set(row["memory_usage"])
        MEMORY_LIMIT.labels(profile).set(row["memory_limit"])
    STATS_TIME.set(when)


class ContainerStats(LoggingConfigurable):
    """Reads the running user containers' CPU and memory from Docker on a timer, in a thread,
    and publishes them per profile. Started by the hub (jupyterhub_ds.audit.hub.install)."""

    interval = Float(
        30.0,
        help="""Seconds between two reads of the user containers' Docker stats
        (the gauges keep the last complete read). 0: no reads (running servers, CPU and memory
        per profile are not exported).""",
    ).tag(config=True)

    max_containers = Int(
        1000,
        help="""Most user containers one read looks at (the rest are left
        out of that read, and it is logged).""",
    ).tag(config=True)

    docker_timeout = Float(10.0, help="Seconds one Docker API call of a read may take.").tag(config=True)

    client_kwargs = Dict(
        help="""Keyword arguments of docker.DockerClient (e.g. base_url, tls);
        default: the environment's DOCKER_HOST, as DockerSpawner."""
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._samples = {}  # container id -> (cpu ns, wall ns)
        self._limits = {}  # container id -> (cpus, memory): fixed for a container's life
        self._client = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jupyterhub-ds-stats")
        self._reading = None
        self._timer = None

    def start(self):
        """Read now and every ``interval`` seconds (in the hub's event loop)."""
        from tornado.ioloop import IOLoop, PeriodicCallback

        if self.interval <= 0:
            return
        self._timer = PeriodicCallback(self.refresh, self.interval * 1000, jitter=0.1)
        self._timer.start()
        IOLoop.current().add_callback(self.refresh)

    def stop(self):
        if self._timer is not None:
            self._timer.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def refresh(self):
        """Start a read unless one is still running; publish it when it completes in time."""
        if self._reading is not None and not self._reading.done():
            return
        self._reading = asyncio.ensure_future(self._read(asyncio.get_running_loop()))

    async def _read(self, loop):
        try:
            containers = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self.collect), max(self.interval, self.docker_timeout * 3)
            )
        except Exception as e:  # Docker down or slow: keep the last reading, say so
            self.log.warning("jupyterhub-ds: could not read the user containers' Docker stats: %s", e)
            return
        publish(aggregate(containers), time.time())

    def docker_client(self):
        if self._client is None:
            import docker

            kwargs = dict(self.client_kwargs)
            self._client = (
                docker.DockerClient(timeout=int(self.docker_timeout), **kwargs)
                if kwargs
                else docker.from_env(timeout=int(self.docker_timeout))
            )
        return self._client

    def collect(self):
        """Blocking (runs in the thread): one dict per running user container."""
        api = self.docker_client().api
        found = api.containers(filters={"label": USER_LABEL, "status": "running"})
        if len(found) > self.max_containers:
            self.log.warning(
                "jupyterhub-ds: %d user containers run; reading the stats of %d (ContainerStats.max_containers)",
                len(found),
                self.max_containers,
            )
            found = found[: self.max_containers]
        seen, rows = set(), []
        for summary in found:
            cid = summary["Id"]
            seen.add(cid)
            if cid not in self._limits:
                self._limits[cid] = limits_of(api.inspect_container(cid))
            stats = api.stats(cid, stream=False, one_shot=True)
            sample = cpu_sample(stats, time.time())
            cores = cpu_cores(self._samples.get(cid), sample)
            self._samples[cid] = sample
            cpus, memory = self._limits[cid]
            rows.append(
                {
                    "profile": (summary.get("Labels") or {}).get(PROFILE_LABEL),
                    "cpu_usage": cores,
                    "cpu_limit": cpus,
                    "memory_usage": memory_in_use(stats),
                    "memory_limit": memory,
                }
            )
        for gone in set(self._samples) - seen:
            self._samples.pop(gone, None)
            self._limits.pop(gone, None)
        return rows
