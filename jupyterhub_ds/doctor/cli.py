"""``jupyterhub-ds doctor [--config ADMIN.yaml] [--proxy-api-url URL]``: the shell around
:mod:`.checks` and :mod:`.probe`: asks the Docker engine (docker-py, the hub extra), the
environment and the hub's public URL, prints one PASS/FAIL/SKIP line per check with its fix,
and exits 1 when any check fails. Run it on the hub's host, with the hub's environment."""

from __future__ import annotations

import os
import secrets
import ssl
import sys
import urllib.error
import urllib.request

from . import checks as C
from . import probe as P

DOCKER_TIMEOUT = 30
HEALTH_TIMEOUT = 10


def add_arguments(parser):
    parser.add_argument(
        "--config",
        metavar="ADMIN.yaml",
        default=os.environ.get("JUPYTERHUB_DS_CONFIG"),
        help="the admin YAML the hub runs with (default: $JUPYTERHUB_DS_CONFIG)",
    )
    parser.add_argument(
        "--proxy-api-url",
        metavar="URL",
        default="http://127.0.0.1:8001",
        help="the proxy's REST API, as c.ConfigurableHTTPProxy.api_url sets it (default: JupyterHub's, %(default)s)",
    )


def health(public_url):
    """(status, error) of GET <public_url>hub/health over a verified https connection."""
    url = public_url.rstrip("/") + "/hub/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT, context=ssl.create_default_context()) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as e:
        return e.code, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))


def audit_writable(path):
    """(writable?, why not), without creating the file (the doctor may run as another user)."""
    if os.path.exists(path):
        return os.access(path, os.W_OK), "no write permission"
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return False, f"the folder {folder} does not exist"
    return os.access(folder, os.W_OK), f"no write permission on {folder}"


def gather(config, client, args, env):
    """Every check after the admin YAML's (Docker answered)."""
    from ..config.loader import audit_path

    found_images = {}
    for image in C.named_images(config):
        try:
            found_images[image] = client.images.get(image).labels or {}
        except Exception:  # docker.errors.ImageNotFound (or a reference docker refuses)
            found_images[image] = None
    results = C.image_checks(config, found_images)
    results.append(C.crypt_key_check(env))
    results.append(C.subdomain_check(config))
    https = config["hub"]["public_url"].startswith("https://")
    results.append(C.tls_check(config, health(config["hub"]["public_url"]) if https else None))
    name = config["network"]["name"]
    network = next((n.attrs for n in client.networks.list(names=[name]) if n.name == name), None)
    results.append(C.network_check(config, network))
    running = client.containers.list(filters={"label": C.USER_LABEL, "status": "running"})
    results += C.container_checks(config, [client.api.inspect_container(c.id) for c in running])
    results += probe(config, client, args, network, found_images)
    path = audit_path(config, os.path.dirname(os.path.abspath(args.config)))
    results.append(C.audit_check(path, *audit_writable(path)) if path else C.audit_check(None, False))
    return results


def probe(config, client, args, network, found_images):
    if config["spawner"]["kind"] == "swarm":
        return P.probe_skipped("spawner.kind swarm: run the probe by hand on a node (docs/operations.md)")
    image = config["images"]["default"]
    if network is None or found_images.get(image) is None:
        return P.probe_skipped(f"needs the user network and {image} (see the lines above)")
    try:
        gateway = network["IPAM"]["Config"][0]["Gateway"]
    except (KeyError, IndexError, TypeError):
        return P.probe_checks([], [], f"the network {network.get('Name')} has no gateway address")
    found = P.targets(config, gateway, args.proxy_api_url)
    try:
        results = P.run_probe(client, image, network["Name"], found, f"jupyterhub-ds-doctor-{secrets.token_hex(4)}")
    except Exception as e:  # docker errors, a timeout, unexpected output
        return P.probe_checks(found, [], f"{type(e).__name__}: {e}")
    return P.probe_checks(found, results)


def run(args, env=None):
    from ..config import check_file

    env = dict(os.environ) if env is None else env
    if not args.config:
        print(
            "doctor: give the admin YAML the hub runs with: --config ADMIN.yaml (or set JUPYTERHUB_DS_CONFIG)",
            file=sys.stderr,
        )
        return 2
    problems, config = check_file(args.config)
    results = [C.config_check(args.config, problems)]
    if config is not None:
        address = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        try:
            import docker

            client = docker.from_env(timeout=DOCKER_TIMEOUT)
            version = client.version().get("Version", "?")
        except ImportError:
            results.append(
                C.dockerd_check(address, None, "docker-py is not installed: pip install 'jupyterhub-ds[hub]'")
            )
        except Exception as e:  # docker.errors.DockerException: no engine
            results.append(C.dockerd_check(address, None, str(e)[:200]))
        else:
            results.append(C.dockerd_check(address, version))
            try:
                results += gather(config, client, args, env)
            finally:
                client.close()
    for check in results:
        print(check.line(), flush=True)
    failed = [c for c in results if c.status == C.FAIL]
    print(
        f"doctor: {len(results)} checks, {len(failed)} failed"
        + (f" ({', '.join(c.name for c in failed)})" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0
