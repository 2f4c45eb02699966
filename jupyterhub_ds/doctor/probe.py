"""What a user's container can reach: a probe container on the user network tries TCP
connections, and the doctor compares with what must and must not answer.

The probe is a container of the single-user image (``images.default``) on ``network.name``,
run as uid 1000 with every capability dropped, ``no-new-privileges``, a read-only root file
system, 64 MiB and 32 processes at most, removed when done; each connection attempt has
:data:`CONNECT_TIMEOUT` seconds and the whole probe :data:`PROBE_TIMEOUT`. It only opens and
closes TCP connections: nothing is sent.

What it tries (:func:`targets`, pure), from the container's side of the network:

- the hub API, ``hub_connect_ip`` (or the gateway) at ``hub_bind_url``'s port: **must answer**
  (servers report activity, get tokens and post events there);
- the proxy's REST API (``--proxy-api-url``, JupyterHub's default ``127.0.0.1:8001``): must
  not; a loopback address is tried on the network's gateway (the hub's host as containers see
  it), where a proxy API bound to all addresses would answer;
- the hub database and the promotion database when they are on the network (PostgreSQL,
  MySQL; a loopback host is tried on the gateway): must not; SQLite is a file, nothing to try;
- the promotion service's own port on the gateway (users reach it through the proxy only):
  must not;
- Docker's API on the gateway (2375, 2376): must not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from .checks import FAIL, LOOPBACK, PASS, SKIP, Check

CONNECT_TIMEOUT = 3
PROBE_TIMEOUT = 90
MAX_OUTPUT = 64 * 1024
LABEL = "org.jupyterhub-ds.doctor"
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}

# Runs in the probe container: only the standard library, only TCP connects.
SCRIPT = f"""
import json, socket, sys
out = []
for name, host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), timeout={CONNECT_TIMEOUT}).close()
        out.append("open")
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    must_answer: bool
    why: str


def _on_network(host, gateway):
    return gateway if host in LOOPBACK or host in ("0.0.0.0", "::", "") else host


def _database(url, what, gateway):
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme not in DEFAULT_PORTS:
        return None
    parts = urlsplit(url)
    return Target(
        what,
        _on_network(parts.hostname or "", gateway),
        parts.port or DEFAULT_PORTS[scheme],
        False,
        "users' containers must not reach the database; bind it to an address they cannot reach or "
        "firewall the user network",
    )


def targets(config, gateway, proxy_api_url="http://127.0.0.1:8001"):
    """Every (name, host, port, must answer?) the probe tries, from the container's side."""
    hub = config["hub"]
    bind = urlsplit(hub["hub_bind_url"] or "http://127.0.0.1:8081")
    hub_host = hub["hub_connect_ip"] or _on_network(bind.hostname or "", gateway)
    found = [
        Target(
            "hub API",
            hub_host,
            bind.port or 8081,
            True,
            "servers talk to the hub there (activity, tokens, events); bind hub.hub_bind_url on the user "
            "network's gateway and set hub.hub_connect_ip to it",
        )
    ]
    proxy = urlsplit(proxy_api_url)
    found.append(
        Target(
            "proxy API",
            _on_network(proxy.hostname or "", gateway),
            proxy.port or 8001,
            False,
            "whoever reaches the proxy's API can route any URL anywhere; bind it to 127.0.0.1 "
            "(c.ConfigurableHTTPProxy.api_url)",
        )
    )
    for url, what in ((hub["db_url"], "hub database"), (config["promotion"]["database_url"], "promotion database")):
        target = _database(url, what, gateway)
        if target is not None:
            found.append(target)
    if config["promotion"]["projects"]:
        found.append(
            Target(
                "promotion service port",
                gateway,
                config["promotion"]["port"],
                False,
                "users reach the service through the proxy (with hub login) only; it must listen on 127.0.0.1",
            )
        )
    for port in (2375, 2376):
        found.append(
            Target(
                f"Docker API :{port}",
                gateway,
                port,
                False,
                "Docker's API gives root on the host; never expose it to containers",
            )
        )
    return found


def probe_checks(found, results, error=""):
    """Checks from the probe's ``results`` (one per target: "open" or the error's name)."""
    if error:
        return [
            Check(
                "isolation probe",
                FAIL,
                f"the probe container did not run: {error}",
                "check that images.default and network.name exist (the lines above)",
            )
        ]
    checks = []
    for target, result in zip(found, results, strict=True):
        where = f"{target.host}:{target.port}"
        if target.must_answer:
            checks.append(
                Check(f"reach {target.name}", PASS, f"a user's container reaches it at {where}")
                if result == "open"
                else Check(
                    f"reach {target.name}",
                    FAIL,
                    f"a user's container cannot reach it at {where} ({result})",
                    target.why,
                )
            )
        else:
            checks.append(
                Check(f"no {target.name}", FAIL, f"a user's container reaches it at {where}", target.why)
                if result == "open"
                else Check(f"no {target.name}", PASS, f"not reachable from a user's container at {where} ({result})")
            )
    return checks


def probe_skipped(why):
    return [Check("isolation probe", SKIP, why)]


def run_probe(client, image, network, found, name):
    """Run the probe container (docker-py ``client``); -> the list of results. Removed in any case."""
    payload = json.dumps([[t.name, t.host, t.port] for t in found])
    container = client.containers.create(
        image,
        ["python", "-c", SCRIPT, payload],
        entrypoint="",
        name=name,
        user="1000",
        network=network,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        mem_limit="64m",
        pids_limit=32,
        labels={LABEL: "probe"},
        detach=True,
    )
    try:
        container.start()
        status = container.wait(timeout=PROBE_TIMEOUT)
        out = container.logs(stdout=True, stderr=False)[-MAX_OUTPUT:].decode(errors="replace").strip()
        if status.get("StatusCode") != 0:
            err = container.logs(stdout=False, stderr=True)[-2000:].decode(errors="replace").strip()
            raise RuntimeError(f"exit {status.get('StatusCode')}: {err}")
        results = json.loads(out.splitlines()[-1])
        if not isinstance(results, list) or len(results) != len(found):
            raise RuntimeError("unexpected probe output")
        return [str(r) for r in results]
    finally:
        container.remove(force=True)


__all__ = ["FAIL", "PASS", "Target", "probe_checks", "run_probe", "targets"]
