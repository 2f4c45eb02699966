"""The local demo: GitLab stand-in + hub with hub_config/demo.yaml, on this machine only.

Run by ``./dev.sh demo`` (after it has installed everything and built the images):

    python -m tests.demo [--hub-port 8000] [--gitlab-port 8929] [--work-dir .work/demo]

It creates the Docker network of the demo (inter-container traffic off), starts the GitLab
stand-in on that network's gateway address (so user containers can reach it) seeded with
tests/fake_gitlab/demo_seed.yaml, writes the runtime admin YAML (demo.yaml with this
machine's addresses filled in), starts ``jupyterhub -f hub_config/jupyterhub_config.py``
and prints the URL and the demo logins. Ctrl-C (or SIGTERM) stops both. It lives in tests/
because it runs the GitLab stand-in, a test double the product never imports.
"""

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO_YAML = REPO / "hub_config" / "demo.yaml"
DEMO_SEED = REPO / "tests" / "fake_gitlab" / "demo_seed.yaml"
HUB_CONFIG = REPO / "hub_config" / "jupyterhub_config.py"
NETWORK = "jupyterhub-ds-demo"
APP_UID = "jupyterhub-ds-demo"


def ensure_network(client, name):
    """The demo network (created once, isolated) and its gateway address."""
    found = client.networks.list(names=[name])
    net = next((n for n in found if n.name == name), None)
    if net is None:
        net = client.networks.create(name, driver="bridge",
                                     options={"com.docker.network.bridge.enable_icc": "false"},
                                     labels={"org.jupyterhub-ds.network": "user-containers"})
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def runtime_files(work, gateway, hub_port, gitlab_port, hub_api_port):
    """demo.yaml and the demo seed with this machine's addresses, written under ``work``."""
    config = yaml.safe_load(DEMO_YAML.read_text())
    public = f"http://127.0.0.1:{hub_port}"
    config["hub"].update(public_url=public + "/", bind=public,
                         hub_bind_url=f"http://{gateway}:{hub_api_port}", hub_connect_ip=gateway)
    config["gitlab"]["url"] = f"http://{gateway}:{gitlab_port}"
    shared = work / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "README.txt").write_text("Shared, read-only reference data for every user.\n")
    for mount in config.get("volumes", {}).get("shared", []):
        mount["source"] = str(shared)
    seed = yaml.safe_load(DEMO_SEED.read_text())
    for app in seed["applications"]:
        if app["uid"] == APP_UID:
            app["redirect_uris"] = [f"{public}/hub/oauth_callback"]
    (work / "jupyterhub_ds.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (work / "gitlab_seed.yaml").write_text(yaml.safe_dump(seed, sort_keys=False))
    return work / "jupyterhub_ds.yaml", work / "gitlab_seed.yaml", seed


def wait_for_line(proc, prefix, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and proc.poll() is not None:
            break
    raise SystemExit(f"demo: the GitLab stand-in did not start (see {proc.args})")


def wait_http(url, timeout, proc, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: jupyterhub exited with {proc.returncode}; log: {log}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"demo: the hub did not answer {url} in {timeout} s; log: {log}")


def secret_file(path):
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--hub-port", type=int, default=8000)
    parser.add_argument("--hub-api-port", type=int, default=8081)
    parser.add_argument("--gitlab-port", type=int, default=8929)
    parser.add_argument("--work-dir", default=str(REPO / ".work" / "demo"))
    args = parser.parse_args(argv)

    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    gateway = ensure_network(docker.from_env(), NETWORK)
    yaml_path, seed_path, seed = runtime_files(work, gateway, args.hub_port, args.gitlab_port, args.hub_api_port)
    app = next(a for a in seed["applications"] if a["uid"] == APP_UID)

    chp_dir = REPO / ".work" / "node" / "node_modules" / ".bin"
    env = dict(os.environ,
               PATH=f"{Path(sys.executable).parent}:{chp_dir}:{os.environ.get('PATH', '')}",
               JUPYTERHUB_DS_CONFIG=str(yaml_path), GITLAB_CLIENT_SECRET=app["secret"],
               JUPYTERHUB_CRYPT_KEY=secret_file(work / "crypt_key"),
               NO_PROXY=f"127.0.0.1,localhost,{gateway}", no_proxy=f"127.0.0.1,localhost,{gateway}")
    gitlab_log = open(work / "gitlab.log", "ab")
    gitlab = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_gitlab", "--host", gateway, "--port", str(args.gitlab_port),
         "--seed", str(seed_path), "--data-dir", str(work / "gitlab")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=gitlab_log, text=True, env=env)
    hub = None
    try:
        gitlab_url = wait_for_line(gitlab, "ready ", 30).split()[1]
        hub_log = work / "jupyterhub.log"
        hub = subprocess.Popen([shutil.which("jupyterhub", path=env["PATH"]), "-f", str(HUB_CONFIG)],
                               cwd=work, env=env, stdout=open(hub_log, "ab"), stderr=subprocess.STDOUT)
        hub_url = f"http://127.0.0.1:{args.hub_port}"
        wait_http(f"{hub_url}/hub/health", 60, hub, hub_log)
        users = [u for u in seed["users"] if not u.get("is_admin")]
        print(f"\njupyterhub-ds demo is running\n\n  hub:    {hub_url}/\n  GitLab: {gitlab_url}/ (stand-in)\n")
        print("  demo logins (GitLab user / password):")
        notes = {"alice": "analyst: small profile", "bob": "lead: small + large, hub admin",
                 "erin": "GPU group: gpu profile", "carol": "in no allowed group: refused"}
        for u in users:
            print(f"    {u['username']:<8} {u['password']:<18} {notes.get(u['username'], '')}")
        print(f"\n  logs: {work}/jupyterhub.log, {work}/gitlab.log\n  Ctrl-C stops the demo.\n", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
        while not stop and hub.poll() is None and gitlab.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (hub, gitlab):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        print("demo stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
