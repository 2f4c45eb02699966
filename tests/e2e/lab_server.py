"""A real JupyterLab (the venv's ``jupyter lab``) with the built @jupyterhub-ds/review frontend
and the jupyterhub-ds server extension, on a free loopback port with a token.

The frontend is built by ``extensions/labextension/build.sh --if-needed`` (a no-op when the
sources did not change) and found through ``JUPYTER_PATH`` (a temp dir whose
``labextensions/@jupyterhub-ds/review`` links to the build output), so the test exercises
this checkout's build without installing anything into the venv. The server extension is
enabled by the same jupyter-config file the package ships. Config, data, runtime, settings
and workspace dirs are temp dirs: nothing of the user's JupyterLab state leaks in.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.fixtures.hub import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "extensions" / "labextension" / "build.sh"
BUILD_OUTPUT = REPO_ROOT / "extensions" / "review" / "labextension"
SERVER_ENABLE_FILE = (
    REPO_ROOT / "extensions" / "jupyter-config" / "jupyter_server_config.d" / "jupyterhub_ds_review.json"
)
BUILD_TIMEOUT = 300.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def build_labextension() -> Path:
    """Build the frontend if its sources changed; return the output dir (fails loudly)."""
    env = dict(os.environ, VENV=str(Path(sys.executable).parent.parent))
    proc = subprocess.run(
        [str(BUILD_SCRIPT), "--if-needed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    if proc.returncode != 0 or not (BUILD_OUTPUT / "package.json").exists():
        raise RuntimeError(
            f"{BUILD_SCRIPT} --if-needed failed (exit {proc.returncode}); "
            f"output:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return BUILD_OUTPUT


@dataclass
class LabProcess:
    url: str  # http://127.0.0.1:<port>/ (base_url /)
    token: str
    root_dir: Path
    log_path: Path
    proc: subprocess.Popen

    def page_url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path.lstrip('/')}{sep}token={self.token}"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path.lstrip("/"), headers=headers, timeout=30, **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # jupyter lab shuts its kernels down on SIGTERM
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the lab and its kernels
            self.proc.wait(STOP_TIMEOUT)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def start_lab(base: Path, root_dir: Path, config_py: str = "", app: str = "lab") -> LabProcess:
    """Start ``jupyter lab`` (or, with ``app="notebook"``, Notebook 7's ``jupyter notebook``)
    serving ``root_dir``; state dirs live under ``base``.

    ``config_py`` is written as the server's ``jupyter_server_config.py`` (e.g. ``c.ReviewConfig``
    settings that point the extension at the GitLab stand-in).
    """
    output = build_labextension()
    jupyter_path = base / "jupyter-path"
    link = jupyter_path / "labextensions" / "@jupyterhub-ds" / "review"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(output, target_is_directory=True)

    config_dir = base / "config"
    (config_dir / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(SERVER_ENABLE_FILE, config_dir / "jupyter_server_config.d" / SERVER_ENABLE_FILE.name)
    (config_dir / "jupyter_server_config.py").write_text(config_py)
    settings_dir = config_dir / "lab" / "user-settings"
    # no "would you like news?" toast covering the page, and no news fetching
    _write_json(
        settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )

    token = secrets.token_hex(16)
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_PATH=str(jupyter_path),
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("JUPYTERHUB_API_TOKEN", None)
    exe = Path(sys.executable).parent / f"jupyter-{app}"
    app_class = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}[app]
    if not exe.exists():
        package = {"lab": "jupyterlab", "notebook": "notebook>=7,<8"}[app]
        raise RuntimeError(f"{exe} not found: install {package!r} in the test venv (the [test] extra)")
    log_path = base / "jupyter-lab.log"
    cmd = [
        str(exe),
        "--no-browser",
        "--ServerApp.allow_root=True",  # CI and the dev containers run as root
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",
        f"--{app_class}.user_settings_dir={settings_dir}",
        f"--{app_class}.workspaces_dir={base / 'workspaces'}",
    ]
    if app == "lab":
        cmd += [
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir, start_new_session=True
        )
    lab = LabProcess(f"http://127.0.0.1:{port}/", token, root_dir, log_path, proc)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {app} exited with {proc.returncode}:\n{lab.log_text()[-4000:]}")
        try:
            if lab.api("GET", "api/status").status_code == 200:
                return lab
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    lab.stop()
    raise RuntimeError(f"jupyter {app} did not answer within {START_TIMEOUT}s:\n{lab.log_text()[-4000:]}")
