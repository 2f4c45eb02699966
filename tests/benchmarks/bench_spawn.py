"""Benchmark of spawning, and of the hub at team scale (a script, not a test).

    .venv/bin/python -m tests.benchmarks.bench_spawn [--rounds 5] [--concurrent 30] [--users 1000]
                                                     [--logins 50] [--image IMAGE] [--gitlab-latency MS]
    .venv/bin/python -m tests.benchmarks.bench_spawn --quick    # what CI runs: small and short

The real stack (tests/fixtures/sandbox.py): the GitLab stand-in, a real hub with CHP configured
from an admin YAML, real Docker. Side by side in one run, so that a loaded machine slows both:

1. spawn latency: the REST API spawn of the small profile until ``/user/<name>/api/status``
   answers through the proxy, vs ``docker run`` of the same image with the same limits and
   hardening until ``jupyter server``'s ``/api`` answers; rounds alternate the two. Median,
   p95, ratio (goal <= 1.2), and where a spawn's time goes, phase by phase, from the
   timestamps of the GitLab stand-in's access log, ``docker events``, the server's own log,
   the hub's and the proxy's logs and the client;
2. login storm: M logins at once through the stand-in's OAuth pages (requests sessions, as a
   browser) -> p50/p95 of the login, until the spawn page (the profile form) where the hub
   sends a user after logging in, and of the spawn page's own request;
3. concurrency: N users spawn at once vs N bare ``docker run``s at once (the floor on this
   machine: the servers' starts are CPU-bound) -> p50/p95 of both, failures, leaked containers,
   and the longest the spawn page (the progress event stream) went without an event;
4. hub memory: RSS of the hub process with U users logged in (auth_state, groups) and the N
   servers of step 3 running. The users are logged in through the real OAuth flow.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import docker
import requests

from tests.fixtures.hub import loopback_session
from tests.fixtures.hub_login import login_via_gitlab
from tests.fixtures.sandbox import IMAGE, PROFILES, password, sandbox_seed, sandbox_stack

SPAWN_TIMEOUT = 320  # one spawn, or one batch of concurrent spawns, in seconds (> start_timeout)
POLL = 0.05  # how often the client asks whether the server answers
BARE_TOKEN = secrets.token_hex(16)
SMALL = next(p for p in PROFILES if p["slug"] == "small")
# `jupyter server` with the collector paused while it starts, as jupyterhub-ds-singleuser does
GC_PAUSED_SERVER = "import gc, sys; gc.disable(); from jupyter_server.serverapp import main; sys.exit(main())"


def user_name(i: int) -> str:
    return f"u{i:04d}"


def seed(users: int) -> dict:
    """The sandbox's seed plus ``users`` analysts: they may use the small profile, and their
    servers clone the workspace project at start, as the sandbox's analysts' do."""
    s = sandbox_seed()
    analysts = next(g for g in s["groups"] if g["path"] == "data-science/analysts")
    project = next(p for p in s["projects"] if p["path"] == "data-science/notebooks")
    for i in range(users):
        name = user_name(i)
        s["users"].append(
            {"username": name, "name": f"User {i}", "email": f"{name}@example.com", "password": password(name)}
        )
        analysts["members"].append({"username": name, "access_level": 30})
        project["members"].append({"username": name, "access_level": 30})
    return s


def bench_yaml(config: dict) -> dict:
    """The sandbox's admin YAML with timeouts long enough for N servers starting at once on a
    loaded 2-core machine (the figures are times; a timeout would only hide them)."""
    config["spawner"].update(start_timeout=300, http_timeout=240)
    return config


def pct(values, q):
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def spread(values):
    return f"median {statistics.median(values):.2f} s, p95 {pct(values, 95):.2f} s"


# --- timestamps from the stack's logs --------------------------------------------------------


class DockerEvents:
    """``docker events`` of the containers, in a thread: {(container name, action): wall time}."""

    def __init__(self, client: docker.DockerClient):
        self.times: dict[tuple[str, str], float] = {}
        self._stream = client.events(decode=True, filters={"type": "container"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        with contextlib.suppress(Exception):  # the stream ends when closed
            for e in self._stream:
                name = e.get("Actor", {}).get("Attributes", {}).get("name", "")
                self.times.setdefault((name, e.get("Action", "")), e["timeNano"] / 1e9)

    def wait(self, name, action, timeout=10.0):
        deadline = time.monotonic() + timeout
        while (name, action) not in self.times and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.times.get((name, action))

    def forget(self, name):
        for key in [k for k in self.times if k[0] == name]:
            del self.times[key]

    def close(self):
        self._stream.close()


def server_running_at(container) -> float | None:
    """When the server in ``container`` said it runs (Docker's timestamp of that log line)."""
    for line in container.logs(timestamps=True).decode(errors="replace").splitlines():
        if "is running at:" in line:
            stamp = line.split(" ", 1)[0]  # RFC 3339, nanoseconds, UTC
            whole, _, frac = stamp.rstrip("Z").partition(".")
            t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
            return t + float("0." + (frac or "0"))
    return None


HUB_LINE = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")
CHP_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \[ConfigProxy\]")
GITLAB_LINE = re.compile(r"^\[fake_gitlab I (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \d{3} \w+ \S+ ([\d.]+)ms")


def _local(text: str) -> float:
    return datetime.datetime.strptime(text.replace(",", "."), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def hub_log_time(log: str, pattern: str, after: float) -> float | None:
    """Time of the first hub or proxy log line after ``after`` containing ``pattern``."""
    today = datetime.date.today().isoformat()
    for line in log.splitlines():
        if pattern not in line:
            continue
        m = HUB_LINE.match(line)
        t = _local(m.group(1)) if m else None
        if t is None and (m := CHP_LINE.match(line)):
            t = _local(f"{today} {m.group(1)}")
        if t is not None and t >= after - 0.002:
            return t
    return None


def gitlab_calls(log: str, start: float, end: float) -> list[tuple[float, float]]:
    """(start, end) of every GitLab stand-in request that ended between ``start`` and ``end``."""
    calls = []
    for line in log.splitlines():
        if m := GITLAB_LINE.match(line):
            t = _local(m.group(1))
            if start - 0.002 <= t <= end:
                calls.append((t - float(m.group(2)) / 1000, t))
    return calls


# --- one spawn through the hub, one bare run -------------------------------------------------


@dataclass
class Spawn:
    name: str
    latency: float | None = None
    error: str = ""
    phases: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # (wall time, progress, message) of the spawn page
    longest_silence: float = 0.0
    silent_after: str = ""  # the event (or the request) the longest silence followed
    t0: float = 0.0  # wall time of the request (or of `docker run`)


class Bench:
    def __init__(self, sb, events: DockerEvents, image: str):
        self.sb = sb
        self.events = events
        self.image = image
        self.http = loopback_session()
        self.tokens: dict[str, str] = {}

    def token(self, name):
        if name not in self.tokens:
            self.tokens[name] = self.sb.user_token(name)
        return self.tokens[name]

    def progress(self, spawn: Spawn, t0: float, deadline: float):
        """Read the spawn page's event stream (as its EventSource does) until ready or failed."""
        url = f"{self.sb.hub.api_url}/users/{spawn.name}/server/progress"
        headers = {"Authorization": f"token {self.sb.hub.admin_token}"}
        session = loopback_session()
        while time.monotonic() < deadline:
            with session.get(url, headers=headers, stream=True, timeout=SPAWN_TIMEOUT) as r:
                if r.status_code in (400, 404):  # the POST has not reached the hub yet
                    time.sleep(POLL)
                    continue
                r.raise_for_status()
                for line in r.iter_lines(decode_unicode=True):
                    if not line or not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    spawn.events.append((time.time(), event.get("progress"), event.get("message", "")))
                    if event.get("ready") or event.get("failed"):
                        break
            break
        stamps = [(t0, "the spawn request")] + [(t, message) for t, _, message in spawn.events]
        gaps = [(b[0] - a[0], a[1]) for a, b in zip(stamps, stamps[1:], strict=False)]
        spawn.longest_silence, spawn.silent_after = max(gaps, default=(0.0, ""))
        if spawn.events and spawn.events[-1][2] and "failed" in spawn.events[-1][2].lower():
            spawn.error = spawn.events[-1][2]

    def hub_spawn(self, name: str, with_phases: bool = False) -> Spawn:
        spawn = Spawn(name)
        token = self.token(name)
        deadline = time.monotonic() + SPAWN_TIMEOUT
        t0 = spawn.t0 = time.time()
        reader = threading.Thread(target=self.progress, args=(spawn, t0, deadline), daemon=True)
        reader.start()
        r = self.sb.hub.api("POST", f"/users/{name}/server", json={"profile": "small"}, timeout=SPAWN_TIMEOUT)
        if r.status_code not in (201, 202):
            spawn.error = f"POST answered {r.status_code}: {r.text[:200]}"
            return spawn
        reader.join(max(0.0, deadline - time.monotonic()))
        url = f"{self.sb.hub.url}/user/{name}/api/status"
        while time.monotonic() < deadline and not spawn.error:
            try:
                if (
                    self.http.get(
                        url, headers={"Authorization": f"token {token}"}, timeout=30, allow_redirects=False
                    ).status_code
                    == 200
                ):
                    spawn.latency = time.time() - t0
                    break
            except requests.RequestException:
                pass
            time.sleep(POLL)
        else:
            spawn.error = spawn.error or f"no answer from /user/{name}/api/status in {SPAWN_TIMEOUT} s"
        if with_phases and spawn.latency is not None:
            spawn.phases = self.hub_phases(name, t0, t0 + spawn.latency)
        return spawn

    def hub_phases(self, name, t0, t_end):
        cname = self.sb.container_name(name)
        create, start = self.events.wait(cname, "create"), self.events.wait(cname, "start")
        (container,) = self.sb.containers(name)
        up = server_running_at(container)
        log = self.sb.hub.log_text()
        took = hub_log_time(log, f"User {name} took", t0)
        route = hub_log_time(log, f"Adding route /user/{name}", t0)
        calls = gitlab_calls(self.sb.gitlab.log(), t0, create or t_end)
        refresh = (max(e for _, e in calls) - t0) if calls else 0.0
        if None in (create, start, up, took, route):
            return {}
        return {
            "GitLab refresh before spawn": refresh,
            "hub, until the container is created": create - t0 - refresh,
            "container create -> start": start - create,
            "server start in the container": up - start,
            "hub sees the server up": took - up,
            "proxy route": route - took,
            "first answer through the proxy": t_end - route,
        }

    def stop(self, name):
        r = self.sb.hub.api("DELETE", f"/users/{name}/server", timeout=120)
        if r.status_code not in (202, 204):
            raise RuntimeError(f"stopping {name}: {r.status_code} {r.text[:200]}")

    def wait_stopped(self, names, timeout=120):
        deadline = time.monotonic() + timeout
        left = set(names)
        while left and time.monotonic() < deadline:
            for name in sorted(left):
                if not self.sb.hub.api("GET", f"/users/{name}").json().get("servers") and not self.sb.containers(name):
                    left.discard(name)
            time.sleep(0.2)
        if left:
            raise RuntimeError(f"servers of {sorted(left)} did not stop within {timeout} s")

    # bare docker run: the same image, limits and hardening; no hub

    def bare_name(self, i):
        return f"{self.sb.prefix}-bare-{i}"

    def bare_run(self, i: int, with_phases: bool = False, gc_paused: bool = False) -> Spawn:
        """``jupyter server`` in the image; ``gc_paused``: with the garbage collector paused
        during the start, as the image's own command (jupyterhub-ds-singleuser) does."""
        name = self.bare_name(i)
        server = ["python", "-c", GC_PAUSED_SERVER] if gc_paused else ["jupyter", "server"]
        spawn = Spawn(name)
        t0 = spawn.t0 = time.time()
        deadline = time.monotonic() + SPAWN_TIMEOUT
        mem = SMALL["mem_limit"].lower()
        run = subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "--network",
                self.sb.network,
                "--cpus",
                str(SMALL["cpu_limit"]),
                "--memory",
                mem,
                "--memory-swap",
                mem,
                "--pids-limit",
                str(SMALL["pids_limit"]),
                "--user",
                "1000",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges:true",
                self.image,
                *server,
                "--ip=0.0.0.0",
                "--port=8888",
                f"--IdentityProvider.token={BARE_TOKEN}",
            ],
            capture_output=True,
            text=True,
            timeout=SPAWN_TIMEOUT,
        )
        if run.returncode != 0:
            spawn.error = run.stderr.strip()[-300:]
            return spawn
        container = self.sb.docker.containers.get(name)
        ip = container.attrs["NetworkSettings"]["Networks"][self.sb.network]["IPAddress"]
        while time.monotonic() < deadline:
            try:
                if self.http.get(f"http://{ip}:8888/api", timeout=30).status_code == 200:
                    spawn.latency = time.time() - t0
                    break
            except requests.RequestException:
                pass
            time.sleep(POLL)
        else:
            spawn.error = f"no answer from the bare server in {SPAWN_TIMEOUT} s"
        if with_phases and spawn.latency is not None:
            create, start = self.events.wait(name, "create"), self.events.wait(name, "start")
            up = server_running_at(container)
            if None not in (create, start, up):
                spawn.phases = {
                    "docker CLI, until the container is created": create - t0,
                    "container create -> start": start - create,
                    "server start in the container": up - start,
                    "first answer": t0 + spawn.latency - up,
                }
        return spawn

    def bare_remove(self, i):
        with contextlib.suppress(docker.errors.NotFound):
            self.sb.docker.containers.get(self.bare_name(i)).remove(force=True)
        self.events.forget(self.bare_name(i))

    def timed_login(self, name):
        """-> (name, seconds of the OAuth login until the spawn page shows the profile form,
        seconds of the spawn page's own request, error). After a login the hub sends a user
        without a server to the spawn page (JupyterHub's redirect_to_server, the product's
        default), so the login ends on the page the user sees."""
        t0 = time.perf_counter()
        result = login_via_gitlab(self.sb.public_url, name, password(name))
        t_login = time.perf_counter() - t0
        page = result.response
        if result.status != 200 or urlsplit(page.url).path != "/hub/spawn" or 'name="profile"' not in page.text:
            return name, None, None, f"login ended on {page.status_code} {page.url}, not the spawn page's profile form"
        self.sb.sessions[name] = result.session
        return name, t_login, page.elapsed.total_seconds(), ""


# --- the four parts --------------------------------------------------------------------------


def part_latency(bench: Bench, rounds: int):
    print(f"\n== 1. spawn latency, {rounds} rounds (+1 warm-up), small profile ==")
    name = user_name(0)
    bench.sb.login(name)
    hub, bare, paused, hub_phases, bare_phases, refreshes = [], [], [], [], [], 0
    for r in range(rounds + 1):
        s = bench.hub_spawn(name, with_phases=True)
        if s.error:
            raise RuntimeError(f"round {r}: spawn of {name} failed: {s.error}\n{bench.sb.hub.log_tail(40)}")
        bench.stop(name)
        b = bench.bare_run(r, with_phases=True)
        bench.bare_remove(r)
        if b.error:
            raise RuntimeError(f"round {r}: bare run failed: {b.error}")
        bench.wait_stopped([name])
        bench.events.forget(bench.sb.container_name(name))
        g = bench.bare_run(1000 + r, gc_paused=True)
        bench.bare_remove(1000 + r)
        if g.error:
            raise RuntimeError(f"round {r}: bare run with the collector paused failed: {g.error}")
        line = (
            f"  round {r}{' (warm-up)' if r == 0 else ''}: hub {s.latency:.2f} s, bare {b.latency:.2f} s, "
            f"bare with the collector paused {g.latency:.2f} s"
        )
        print(line + (f"  [{', '.join(f'{k} {v:.2f}' for k, v in s.phases.items())}]" if s.phases else ""), flush=True)
        if r == 0:
            continue
        hub.append(s.latency)
        bare.append(b.latency)
        paused.append(g.latency)
        if s.phases:
            hub_phases.append(s.phases)
            refreshes += s.phases["GitLab refresh before spawn"] > 0
        if b.phases:
            bare_phases.append(b.phases)
    ratio = statistics.median(hub) / statistics.median(bare)
    print(
        f"spawn latency over {rounds} rounds: hub {spread(hub)}; bare docker run {spread(bare)}; "
        f"ratio of medians {ratio:.2f} (goal <= 1.2), of p95s {pct(hub, 95) / pct(bare, 95):.2f}"
    )
    print(
        f"  the same floor with the garbage collector paused while the server starts, as the hub's servers "
        f"(jupyterhub-ds-singleuser) have it: {spread(paused)}; ratio of medians "
        f"{statistics.median(hub) / statistics.median(paused):.2f} (what jupyterhub-singleuser itself adds)"
    )
    print("where a hub spawn's time goes (median of the rounds, seconds):")
    for key in hub_phases[0] if hub_phases else {}:
        print(f"  {key:<40} {statistics.median(p[key] for p in hub_phases):6.3f}")
    print(f"  (the GitLab refresh ran before {refreshes} of {len(hub_phases)} spawns)")
    print("where a bare run's time goes (median, seconds):")
    for key in bare_phases[0] if bare_phases else {}:
        print(f"  {key:<40} {statistics.median(p[key] for p in bare_phases):6.3f}")
    return ratio, hub, bare


def at_once(fn, items):
    """Run ``fn(item)`` for every item at the same moment (a barrier), each in its own thread."""
    barrier = threading.Barrier(len(items))

    def go(item):
        barrier.wait(timeout=60)
        return fn(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(go, items))


def part_concurrency(bench: Bench, n: int):
    print(f"\n== 3. {n} spawns at once (small profile) vs {n} bare docker runs at once ==")
    names = [user_name(i) for i in range(n)]
    for name in names:
        bench.sb.login(name)
        bench.token(name)
    # the bare runs first, removed before the spawns: neither batch then competes with what the
    # other's servers do once they are up (the hub's servers stay up for the memory figure)
    bares = at_once(bench.bare_run, list(range(100, 100 + n)))
    bare_failed = [f"{s.name}: {s.error}" for s in bares if s.error or s.latency is None]
    bare = [s.latency for s in bares if s.latency is not None]
    bare_started = [t - s.t0 for s in bares if (t := bench.events.wait(s.name, "start", 0))]
    for i in range(100, 100 + n):
        bench.bare_remove(i)
    spawns = at_once(bench.hub_spawn, names)
    failed = [f"{s.name}: {s.error}" for s in spawns if s.error or s.latency is None]
    hub = [s.latency for s in spawns if s.latency is not None]
    silence, after = max((s.longest_silence, s.silent_after) for s in spawns)
    events = statistics.median(len(s.events) for s in spawns)
    hub_started = [t - s.t0 for s in spawns if (t := bench.events.wait(bench.sb.container_name(s.name), "start", 0))]
    print(
        f"until the container started: hub p50 {pct(hub_started, 50):.1f} s, p95 {pct(hub_started, 95):.1f} s; "
        f"bare p50 {pct(bare_started, 50):.1f} s, p95 {pct(bare_started, 95):.1f} s"
    )
    print(
        f"hub: {len(hub)} of {n} ready, p50 {pct(hub, 50):.1f} s, p95 {pct(hub, 95):.1f} s; "
        f"bare: {len(bare)} of {n} answered, p50 {pct(bare, 50):.1f} s, p95 {pct(bare, 95):.1f} s; "
        f"p95 ratio {pct(hub, 95) / pct(bare, 95):.2f} (goal <= 1.2)"
    )
    print(
        f"spawn page: {events:.0f} progress events per spawn (median); the longest any spawn page went "
        f'without one: {silence:.1f} s (after "{after}")'
    )
    for line in failed + bare_failed:
        print(f"  FAILED {line}")
    return pct(hub, 95) / pct(bare, 95), failed + bare_failed, names


def part_login_storm(bench: Bench, m: int, first: int):
    print(f"\n== 2. login storm: {m} logins at once through the GitLab stand-in's OAuth pages ==")
    results = at_once(bench.timed_login, [user_name(i) for i in range(first, first + m)])
    errors = [f"{n}: {e}" for n, _, _, e in results if e]
    logins = [t for _, t, _, _ in results if t is not None]
    pages = [p for _, _, p, _ in results if p is not None]
    print(
        f"login until the spawn page: p50 {pct(logins, 50):.2f} s, p95 {pct(logins, 95):.2f} s; the spawn page's own request: "
        f"p50 {pct(pages, 50):.2f} s, p95 {pct(pages, 95):.2f} s (goal: p95 <= 1 s); {len(errors)} failed"
    )
    for e in errors:
        print(f"  FAILED {e}")
    return max(pct(logins, 95), pct(pages, 95)), errors


def hub_rss(sb) -> int:
    for line in Path(f"/proc/{sb.hub.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for the hub process")


def part_memory(bench: Bench, users: int, running: int, logged_in: set):
    print(f"\n== 4. hub memory: {users} users logged in through the stand-in's OAuth, {running} servers running ==")
    todo = [user_name(i) for i in range(users) if user_name(i) not in logged_in]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        for name, _, _, error in pool.map(bench.timed_login, todo):
            if error:
                raise RuntimeError(f"login of {name}: {error}")
    took = time.perf_counter() - t0
    paged = {"Accept": "application/jupyterhub-pagination+json"}
    total = bench.sb.hub.api("GET", "/users", params={"limit": 1}, headers=paged).json()["_pagination"]["total"]
    active = bench.sb.hub.api("GET", "/users", params={"limit": 1, "state": "active"}, headers=paged).json()[
        "_pagination"
    ]["total"]
    rss = hub_rss(bench.sb)
    print(
        f"logged in {len(todo)} more users in {took:.0f} s; the hub has {total} users, {active} with a running "
        f"server; hub RSS {rss / 2**20:.0f} MB (goal <= 300 MB)"
    )
    return rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="single-spawn rounds (default: %(default)s)")
    parser.add_argument("--concurrent", type=int, default=30, help="spawns at once (default: %(default)s)")
    parser.add_argument("--logins", type=int, default=50, help="logins at once (default: %(default)s)")
    parser.add_argument("--users", type=int, default=1000, help="users logged in for the memory figure")
    parser.add_argument("--image", default=IMAGE, help="single-user image (default: %(default)s)")
    parser.add_argument(
        "--hub-config",
        default="",
        metavar="PYTHON",
        help="Python appended to the hub's config, e.g. to measure a setting's worth: "
        "'c.ProfileDockerSpawner.docker_threads = 1'",
    )
    parser.add_argument(
        "--gitlab-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="the GitLab stand-in answers each API and token request after MS milliseconds, as a GitLab "
        "across a network does (default: %(default)s, loopback)",
    )
    parser.add_argument(
        "--parts",
        default="latency,storm,concurrency,memory",
        help="which parts to run, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="what CI runs: 1 round, 3 spawns at once, 10 logins at once, 50 users"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.concurrent, args.logins, args.users = 1, 3, 10, 50
    args.users = max(args.users, args.concurrent + args.logins)
    parts = set(args.parts.split(","))
    started = time.monotonic()
    if args.gitlab_latency:
        print(f"(the GitLab stand-in answers each API and token request after {args.gitlab_latency:g} ms)")
    with (
        tempfile.TemporaryDirectory(prefix="bench-spawn-") as tmp,
        sandbox_stack(
            Path(tmp),
            seed=seed(args.users),
            refresh_age=300,
            image=args.image,
            yaml_changes=bench_yaml,
            # the product's own landing after a login (the test harness sends users home)
            hub_config_extra="\nc.JupyterHub.redirect_to_server = True\n" + args.hub_config + "\n",
            gitlab_api_latency_ms=args.gitlab_latency,
        ) as sb,
    ):
        events = DockerEvents(sb.docker)
        try:
            bench = Bench(sb, events, args.image)
            results, names = {}, []
            if "latency" in parts:
                results["latency"] = part_latency(bench, args.rounds)[0]
            if "storm" in parts:
                results["storm"] = part_login_storm(bench, args.logins, args.concurrent)
            if "concurrency" in parts:
                *results["concurrency"], names = part_concurrency(bench, args.concurrent)
            if "memory" in parts:
                results["memory"] = part_memory(bench, args.users, len(names), set(sb.sessions))
            for name in names:
                bench.stop(name)
            bench.wait_stopped(names, timeout=180)
            leaked = [c.name for c in sb.docker.containers.list(all=True, filters={"name": sb.prefix})]
        finally:
            events.close()
    print(f"\n(the whole run took {time.monotonic() - started:.0f} s)")
    print(summary_line(results, args, leaked))
    failures = results.get("storm", (0, []))[1] + results.get("concurrency", (0, []))[1]
    return 0 if not (failures or leaked) else 1


def summary_line(results, args, leaked):
    def verdict(ok):
        return "yes" if ok else "NO"

    parts = []
    if "latency" in results:
        ratio = results["latency"]
        parts.append(f"spawn ratio {ratio:.2f} (<= 1.2: {verdict(ratio <= 1.2)})")
    if "concurrency" in results:
        ratio, errors = results["concurrency"]
        parts.append(
            f"{args.concurrent} at once: p95 ratio {ratio:.2f} (<= 1.2: {verdict(ratio <= 1.2)}), "
            f"{len(errors)} failed, {len(leaked)} containers left"
        )
    if "storm" in results:
        p95, errors = results["storm"]
        parts.append(f"login storm p95 {p95:.2f} s (<= 1 s: {verdict(p95 <= 1)}), {len(errors)} failed")
    if "memory" in results:
        rss = results["memory"]
        parts.append(f"hub RSS {rss / 2**20:.0f} MB with {args.users} users (<= 300 MB: {verdict(rss <= 300 * 2**20)})")
    return "summary: " + "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
