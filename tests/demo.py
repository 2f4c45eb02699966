"""The local demo: GitLab stand-in + hub with hub_config/demo.yaml, on this machine only.

Run by ``./dev.sh demo`` (after it has installed everything and built the images):

    python -m tests.demo [--hub-port 8000] [--gitlab-port 8929] [--promotion-port 10101]
                         [--work-dir .work/demo] [--name jupyterhub-ds-demo] [--reset]

It creates the Docker network of the demo (inter-container traffic off), starts the GitLab
stand-in on that network's gateway address (so user containers can reach it) seeded with
tests/fake_gitlab/demo_seed.yaml, writes the shared data (a customer table the demo's
notebook reads) and the runtime admin YAML (demo.yaml with this machine's addresses filled
in), starts ``jupyterhub -f hub_config/jupyterhub_config.py`` (which starts the promotion
service) and prints the URL and the demo logins. Ctrl-C (or SIGTERM) stops everything,
the users' containers included (their home volumes stay); ``--reset`` first removes what an
earlier demo left (containers, home volumes, the working folder: GitLab's repositories, the
hub's and the promotion service's databases). ``--name`` names the demo's Docker objects
(network, containers ``<name>-<user>``, volumes ``<name>-home-<user>``), so that tests run
demos of their own. It lives in tests/ because it runs the GitLab stand-in, a test double the
product never imports.
"""

import argparse
import os
import random
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

from jupyterhub_ds._version import __version__

REPO = Path(__file__).resolve().parents[1]
DEMO_YAML = REPO / "hub_config" / "demo.yaml"
DEMO_SEED = REPO / "tests" / "fake_gitlab" / "demo_seed.yaml"
HUB_CONFIG = REPO / "hub_config" / "jupyterhub_config.py"
NAME = "jupyterhub-ds-demo"  # network; users' containers <name>-<user>; home volumes <name>-home-<user>
APP_UID = "jupyterhub-ds-demo"
BOT = "promotion-bot"


def ensure_network(client, name):
    """The demo network (created once, isolated) and its gateway address."""
    found = client.networks.list(names=[name])
    net = next((n for n in found if n.name == name), None)
    if net is None:
        net = client.networks.create(
            name,
            driver="bridge",
            options={"com.docker.network.bridge.enable_icc": "false"},
            labels={"org.jupyterhub-ds.network": "user-containers"},
        )
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def churn_csv(rows=240, seed=7):
    """A small, made-up customer table: longer tenure and lower charges mean fewer leave."""
    rng = random.Random(seed)
    lines = ["customer_id,tenure_months,monthly_charges,churned"]
    for i in range(rows):
        tenure = rng.randint(1, 72)
        charges = round(rng.uniform(20, 120), 2)
        risk = 0.9 - tenure / 60 + (charges - 60) / 80 + rng.uniform(-0.25, 0.25)
        lines.append(f"{1000 + i},{tenure},{charges},{int(risk > 0.5)}")
    return "\n".join(lines) + "\n"


def runtime_files(work, gateway, hub_port, gitlab_port, hub_api_port, promotion_port, name=NAME):
    """demo.yaml and the demo seed with this machine's values, written under ``work``."""
    config = yaml.safe_load(DEMO_YAML.read_text())
    public = f"http://localhost:{hub_port}"  # users' servers at http://<user>.localhost:<port>
    config["hub"].update(
        public_url=public + "/",
        subdomain_host=public,
        bind=f"http://127.0.0.1:{hub_port}",
        hub_bind_url=f"http://{gateway}:{hub_api_port}",
        hub_connect_ip=gateway,
    )
    config["gitlab"]["url"] = f"http://{gateway}:{gitlab_port}"
    shared = work / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "README.txt").write_text("Shared, read-only reference data for every user.\n")
    (shared / "churn.csv").write_text(churn_csv())
    for mount in config["volumes"]["shared"]:
        mount["source"] = str(shared)
    config["volumes"]["home_volume"] = f"{name}-home-{{username}}"
    config["network"]["name"] = name
    config["review"]["allowed_packages_lock"] = str(
        (DEMO_YAML.parent / config["review"]["allowed_packages_lock"]).resolve()
    )
    config["promotion"]["port"] = promotion_port
    for project in config["promotion"]["projects"]:
        project["image"] = project["image"].replace(":this-version", f":{__version__}")
        for mount in project["volumes"]:
            mount["source"] = str(shared)
    seed = yaml.safe_load(DEMO_SEED.read_text())
    for app in seed["applications"]:
        if app["uid"] == APP_UID:
            app["redirect_uris"] = [f"{public}/hub/oauth_callback"]
    (work / "jupyterhub_ds.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (work / "gitlab_seed.yaml").write_text(yaml.safe_dump(seed, sort_keys=False))
    extra = work / "jupyterhub_config.d"
    extra.mkdir(exist_ok=True)
    # the escape hatch beside the YAML: name the demo's containers so that stopping it finds them
    (extra / "10-demo.py").write_text(f"c.DockerSpawner.prefix = {name!r}\n")
    return work / "jupyterhub_ds.yaml", work / "gitlab_seed.yaml", seed


def remove_containers(client, name=NAME):
    """The users' containers of this demo (its promotion service removes its own runs' containers
    when it stops)."""
    gone = []
    for c in client.containers.list(all=True, filters={"name": f"{name}-"}):
        if c.name.startswith(f"{name}-"):
            c.remove(force=True)
            gone.append(c.name)
    return gone


def reset(client, work, name=NAME):
    """Everything an earlier demo left: containers, home volumes, the working folder."""
    removed = remove_containers(client, name)
    for volume in client.volumes.list(filters={"name": f"{name}-home-"}):
        if volume.name.startswith(f"{name}-home-"):
            volume.remove(force=True)
            removed.append(volume.name)
    if work.exists():
        shutil.rmtree(work)
        removed.append(str(work))
    print(f"demo reset: removed {', '.join(removed) or 'nothing'}", flush=True)


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


NOTES = {
    "alice": "analyst: small profile, the project in ~/projects, history of promotions",
    "bob": "lead: small + large, hub admin: merges, runs promotions",
    "erin": "GPU group: gpu profile",
    "carol": "in no allowed group: refused",
}


def banner(hub_url, gitlab_url, hub_port, seed):
    print(
        f"\njupyterhub-ds demo is running\n\n  hub:        {hub_url}/\n  GitLab:     {gitlab_url}/ (stand-in)\n"
        f"  promotion:  {hub_url.replace('//localhost:', '//promotion--service.localhost:')}/services/promotion/\n"
        f"  (each user's server answers on its own origin, http://<user>.localhost:{hub_port}/)\n"
    )
    print("  demo logins (GitLab user / password):")
    for u in seed["users"]:
        if not u.get("is_admin") and u["username"] != BOT:
            print(f"    {u['username']:<8} {u['password']:<18} {NOTES.get(u['username'], '')}")
    print("\n  Ctrl-C stops the demo (and the users' containers); ./dev.sh demo --reset starts afresh.\n", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--hub-port", type=int, default=8000)
    parser.add_argument("--hub-api-port", type=int, default=8081)
    parser.add_argument("--gitlab-port", type=int, default=8929)
    parser.add_argument("--promotion-port", type=int, default=10101)
    parser.add_argument("--work-dir", default=str(REPO / ".work" / "demo"))
    parser.add_argument("--name", default=NAME, help="name of the demo's Docker network, containers and volumes")
    parser.add_argument("--reset", action="store_true", help="remove what an earlier demo left, then start afresh")
    args = parser.parse_args(argv)

    client = docker.from_env()
    work = Path(args.work_dir).resolve()
    if args.reset:
        reset(client, work, args.name)
    work.mkdir(parents=True, exist_ok=True)
    gateway = ensure_network(client, args.name)
    yaml_path, seed_path, seed = runtime_files(
        work, gateway, args.hub_port, args.gitlab_port, args.hub_api_port, args.promotion_port, args.name
    )
    app = next(a for a in seed["applications"] if a["uid"] == APP_UID)
    bot = next(u for u in seed["users"] if u["username"] == BOT)

    chp_dir = REPO / ".work" / "node" / "node_modules" / ".bin"
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}:{chp_dir}:{os.environ.get('PATH', '')}",
        JUPYTERHUB_DS_CONFIG=str(yaml_path),
        GITLAB_CLIENT_SECRET=app["secret"],
        JUPYTERHUB_CRYPT_KEY=secret_file(work / "crypt_key"),
        JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN=bot["personal_access_tokens"][0]["token"],
        NO_PROXY=f"127.0.0.1,localhost,{gateway}",
        no_proxy=f"127.0.0.1,localhost,{gateway}",
    )
    gitlab_log = open(work / "gitlab.log", "ab")
    gitlab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_gitlab",
            "--host",
            gateway,
            "--port",
            str(args.gitlab_port),
            "--seed",
            str(seed_path),
            "--data-dir",
            str(work / "gitlab"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=gitlab_log,
        text=True,
        env=env,
    )
    hub = None
    try:
        gitlab_url = wait_for_line(gitlab, "ready ", 30).split()[1]
        hub_log = work / "jupyterhub.log"
        hub = subprocess.Popen(
            [shutil.which("jupyterhub", path=env["PATH"]), "-f", str(HUB_CONFIG)],
            cwd=work,
            env=env,
            stdout=open(hub_log, "ab"),
            stderr=subprocess.STDOUT,
        )
        hub_url = f"http://localhost:{args.hub_port}"
        wait_http(f"http://127.0.0.1:{args.hub_port}/hub/health", 60, hub, hub_log)
        banner(hub_url, gitlab_url, args.hub_port, seed)
        print(f"  logs: {work}/jupyterhub.log, {work}/gitlab.log\n", flush=True)
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
        stopped = remove_containers(client, args.name)
        print(f"demo stopped{' (removed ' + ', '.join(stopped) + ')' if stopped else ''}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
