"""The doctor's checks: plain data in (the admin config, what Docker and the network said),
:class:`Check` results out. No I/O here; :mod:`.cli` gathers and prints."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlsplit

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
IMAGE_LABELS = ("org.jupyterhub-ds.version", "org.jupyterhub-ds.packages")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# where Docker engines put their socket (/var/run is a link to /run on most systems)
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/user/1000/docker.sock")
USER_LABEL = "org.jupyterhub-ds.user"  # spawner/container.py
PROFILE_LABEL = "org.jupyterhub-ds.profile"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self):
        return f"{self.status}  {self.name}: {self.detail}" + (f"; fix: {self.fix}" if self.fix else "")


def config_check(path, problems):
    if problems:
        return Check(
            "admin YAML",
            FAIL,
            f"{path} has {len(problems)} problem(s): " + " | ".join(problems[:5]),
            f"jupyterhub-ds check-config {path}",
        )
    return Check("admin YAML", PASS, f"{path} has no problems")


def dockerd_check(address, version, error=None):
    if error:
        return Check(
            "dockerd",
            FAIL,
            f"no answer at {address} ({error})",
            "start dockerd (systemctl start docker) or set DOCKER_HOST to the hub's engine",
        )
    return Check("dockerd", PASS, f"Docker {version} answers at {address}")


def named_images(config):
    """The images the admin YAML runs: servers (default, profiles) and promotion runs."""
    names = [config["images"]["default"]]
    for profile in config["profiles"]:
        names += [profile["image"]] if "image" in profile else list(profile.get("images") or ())
    names += [p["image"] for p in config["promotion"]["projects"]]
    return list(dict.fromkeys(names))


def image_checks(config, found):
    """``found``: image -> its labels, or None when the engine does not have it."""
    checks = []
    for image in named_images(config):
        labels = found.get(image)
        if labels is None:
            checks.append(
                Check(
                    f"image {image}",
                    FAIL,
                    "not on this Docker engine",
                    "jupyterhub-ds images build (or docker pull/load it), or fix the name in the admin YAML",
                )
            )
            continue
        missing = [label for label in IMAGE_LABELS if not labels.get(label)]
        if missing:
            checks.append(
                Check(
                    f"image {image}",
                    FAIL,
                    f"lacks the label(s) {', '.join(missing)}, so nobody can tell "
                    "which jupyterhub-ds version and packages it holds",
                    "build it with jupyterhub-ds images build (or add the labels with docker build --label)",
                )
            )
        else:
            checks.append(
                Check(
                    f"image {image}",
                    PASS,
                    f"present, jupyterhub-ds {labels[IMAGE_LABELS[0]]}, "
                    f"{len(labels[IMAGE_LABELS[1]].split(','))} packages recorded",
                )
            )
    return checks


def _key_ok(key):
    for decode in (bytes.fromhex, base64.b64decode):
        try:
            if len(decode(key)) == 32:
                return True
        except (ValueError, binascii.Error):
            continue
    return False


def crypt_key_check(env):
    value = env.get("JUPYTERHUB_CRYPT_KEY", "")
    if not value.strip():
        return Check(
            "crypt key",
            FAIL,
            "JUPYTERHUB_CRYPT_KEY is not set here (auth_state, with users' GitLab tokens, "
            "cannot be encrypted without it)",
            "run doctor with the hub's environment; set it to `openssl rand -hex 32` in the hub's environment",
        )
    keys = [k.strip() for k in value.replace(",", ";").split(";") if k.strip()]
    bad = [i + 1 for i, k in enumerate(keys) if not _key_ok(k)]
    if bad:
        return Check(
            "crypt key",
            FAIL,
            f"JUPYTERHUB_CRYPT_KEY key(s) {bad} are not 32 bytes (hex or base64)",
            "openssl rand -hex 32",
        )
    return Check("crypt key", PASS, f"JUPYTERHUB_CRYPT_KEY set ({len(keys)} key(s) of 32 bytes)")


def subdomain_check(config):
    hub = config["hub"]
    if hub["subdomain_host"]:
        return Check("subdomains", PASS, f"each user's server on its own origin under {hub['subdomain_host']}")
    if hub["single_origin_reason"]:
        return Check("subdomains", PASS, f"one origin for every server, accepted: {hub['single_origin_reason']}")
    return Check(
        "subdomains",
        FAIL,
        "every user's server shares the hub's origin, so a page one user serves can act in another user's session",
        "set hub.subdomain_host (a wildcard DNS name and certificate), or say why not in hub.single_origin_reason",
    )


def tls_check(config, health=None):
    """``health``: (status code or None, error text) of GET public_url/hub/health over https."""
    hub = config["hub"]
    public = hub["public_url"]
    if public.startswith("https://"):
        code, error = health or (None, "not asked")
        if code == 200:
            return Check("TLS", PASS, f"{public} answers over a verified https connection")
        return Check(
            "TLS",
            FAIL,
            f"{public}hub/health did not answer over https ({error or code})",
            "check the TLS proxy in front of the hub (certificate, address) and that the hub runs",
        )
    if urlsplit(hub["bind"]).hostname in LOOPBACK:
        return Check("TLS", PASS, f"local only: plain http, the proxy bound to {hub['bind']} (loopback)")
    return Check(
        "TLS",
        FAIL,
        f"plain http ({public}) with the proxy on {hub['bind']}: logins and tokens cross the network unencrypted",
        "put a TLS proxy in front of the hub and set an https hub.public_url (or bind "
        "hub.bind to 127.0.0.1 for a local hub)",
    )


def network_check(config, network):
    """``network``: ``docker network inspect`` of network.name, or None."""
    name = config["network"]["name"]
    if config["spawner"]["kind"] == "swarm":
        return Check(
            f"user network {name}",
            SKIP,
            "spawner.kind swarm: an overlay network, where inter-container "
            "traffic cannot be switched off (check-config says so)",
        )
    if network is None:
        return Check(
            f"user network {name}",
            FAIL,
            "does not exist yet (the spawner creates it at the first start)",
            "start a server, then run doctor again",
        )
    icc = (network.get("Options") or {}).get("com.docker.network.bridge.enable_icc")
    if network.get("Driver") != "bridge" or icc != "false":
        return Check(
            f"user network {name}",
            FAIL,
            f"{network.get('Driver')} network with inter-container traffic "
            f"{'on' if icc != 'false' else 'off'}: users' containers can reach each other",
            f"docker network rm {name} (with no server running) and let the spawner create it again",
        )
    return Check(f"user network {name}", PASS, "a bridge network with inter-container traffic off")


def _root(user):
    uid = (user or "").split(":", 1)[0]
    return uid in ("", "0", "root")


def _holds_docker_socket(source):
    """Whether a mount of the host's ``source`` gives the container the Docker socket: the socket
    itself, or a folder it is in (``/var/run``, ``/run``, ``/``)."""
    if source.endswith("docker.sock"):
        return True
    folder = source.rstrip("/") + "/"
    return bool(source) and any(sock.startswith(folder) for sock in DOCKER_SOCKETS)


def container_problems(inspect, config):
    """What weakens one user container (``docker inspect`` answer), each as text with the YAML key."""
    host, conf = inspect.get("HostConfig") or {}, inspect.get("Config") or {}
    hardening = config["hardening"]
    problems = []
    if _root(conf.get("User")):
        problems.append(f"runs as root (user {conf.get('User') or 'unset'}; hardening.user)")
    if not any(
        o.replace("=", ":") in ("no-new-privileges", "no-new-privileges:true") for o in host.get("SecurityOpt") or ()
    ):
        problems.append("lacks no-new-privileges (hardening.no_new_privileges)")
    if "ALL" not in [c.upper() for c in host.get("CapDrop") or ()]:
        problems.append("does not drop every capability (CapDrop ALL)")
    extra = sorted(
        {c.upper().removeprefix("CAP_") for c in host.get("CapAdd") or ()} - {c.upper() for c in hardening["cap_add"]}
    )
    if extra:
        problems.append(f"has capabilities added back beyond hardening.cap_add: {', '.join(extra)}")
    if host.get("Privileged"):
        problems.append("is privileged")
    if not (host.get("NanoCpus") or (host.get("CpuQuota") or 0) > 0):
        problems.append("has no CPU limit (the profile's cpu_limit)")
    memory = host.get("Memory") or 0
    if not memory:
        problems.append("has no memory limit (the profile's mem_limit)")
    elif not hardening["allow_swap"] and host.get("MemorySwap") not in (memory,):
        problems.append("may swap beyond its memory limit (hardening.allow_swap)")
    if not (host.get("PidsLimit") or 0) > 0:
        problems.append("has no process limit (hardening.pids_limit)")
    mounts = [m.get("Source") or "" for m in inspect.get("Mounts") or ()]
    if any(_holds_docker_socket(src) for src in mounts):
        problems.append("has the Docker socket mounted")
    networks = sorted((inspect.get("NetworkSettings") or {}).get("Networks") or {})
    if networks and networks != [config["network"]["name"]]:
        problems.append(f"is on the network(s) {', '.join(networks)}, not only {config['network']['name']}")
    return problems


def container_checks(config, inspects):
    if config["spawner"]["kind"] == "swarm":
        return [
            Check(
                "user containers",
                SKIP,
                "spawner.kind swarm: servers run as services on the nodes; "
                "run doctor on each node's engine or inspect the services",
            )
        ]
    if not inspects:
        return [
            Check(
                "user containers",
                SKIP,
                "no user container is running, so none could be checked",
                "start a server, then run doctor again",
            )
        ]
    checks = []
    for inspect in inspects:
        labels = (inspect.get("Config") or {}).get("Labels") or {}
        name = (
            f"user container {inspect.get('Name', '?').lstrip('/')} ({labels.get(USER_LABEL, '?')}, "
            f"{labels.get(PROFILE_LABEL, '?')})"
        )
        problems = container_problems(inspect, config)
        if problems:
            checks.append(
                Check(
                    name,
                    FAIL,
                    "; ".join(problems),
                    "fix the setting named in the admin YAML (check-config "
                    "names unsafe ones), restart the hub, then restart this server",
                )
            )
        else:
            checks.append(
                Check(
                    name,
                    PASS,
                    "non-root, no-new-privileges, no capabilities, CPU/memory/process limits, "
                    "no Docker socket, user network only",
                )
            )
    return checks


def audit_check(path, writable, error=""):
    if not path:
        return Check(
            "audit trail",
            SKIP,
            "audit.path is null: the hub keeps no audit file",
            "set audit.path in the admin YAML to keep one",
        )
    if writable:
        return Check("audit trail", PASS, f"{path} can be appended to")
    return Check(
        "audit trail",
        FAIL,
        f"{path} cannot be appended to ({error})",
        "create its folder and let the hub's user write it",
    )
