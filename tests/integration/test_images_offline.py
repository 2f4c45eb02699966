"""Both images are quiet offline: JupyterLab neither fetches news nor checks for updates,
and never asks the user whether to fetch "official Jupyter news".

The settings live in the single-user image and the data-science image inherits them, so
every check runs on both. Three views: the server's own set-up (which handlers it makes,
with which news URL and update checker), what a running server answers the browser (page
config, news, settings), and the files an admin would look at.
"""

import html
import json
import re
import secrets
import time

import pytest
import requests

pytestmark = pytest.mark.integration

NOTIFICATION = "@jupyterlab/apputils-extension:notification"


@pytest.fixture(params=["singleuser", "singleuser-scipy"])
def image(request):
    return request.getfixturevalue({"singleuser": "singleuser_image", "singleuser-scipy": "scipy_image"}[request.param])


# Runs in the image (no network): set up a Jupyter server the way jupyterhub-singleuser
# does, from the image's config files, and report what the news and update handlers got.
PROBE = r"""
import json
from jupyter_server.serverapp import ServerApp
from jupyterlab.handlers.announcements import CheckForUpdateHandler, NewsHandler

app = ServerApp.instance()
app.initialize(argv=["--ServerApp.port=0", "--ServerApp.open_browser=False", "--ServerApp.log_level=ERROR"])
found = {}

def walk(router):
    for rule in router.rules:
        if hasattr(rule.target, "rules"):
            walk(rule.target)
        elif rule.target in (CheckForUpdateHandler, NewsHandler):
            kwargs = rule.target_kwargs
            found[rule.target.__name__] = {
                "news_url": kwargs.get("news_url"),
                "update_checker": type(kwargs.get("update_checker")).__name__,
            }

walk(app.web_app.default_router)
print(json.dumps(found))
"""


def test_server_gets_no_news_url_and_never_checks_for_updates(image, run_in_image):
    proc = run_in_image(image, "python", "-c", PROBE, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    handlers = json.loads(proc.stdout.strip().splitlines()[-1])
    assert handlers["NewsHandler"]["news_url"] is None
    assert handlers["CheckForUpdateHandler"]["update_checker"] == "NeverCheckForUpdate"


def test_config_files_are_where_jupyter_reads_them(image, run_in_image):
    server = json.loads(run_in_image(image, "cat", "/etc/jupyter/jupyter_server_config.json").stdout)
    assert server == {
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        }
    }
    overrides = json.loads(run_in_image(image, "cat", "/opt/venv/share/jupyter/lab/settings/overrides.json").stdout)
    assert overrides == {NOTIFICATION: {"fetchNews": "false", "checkForUpdates": False}}


@pytest.fixture
def lab_server(docker_client, image):
    """A Jupyter server started from ``image`` with a known token; yields (URL, session)."""
    token = secrets.token_hex(16)
    container = docker_client.containers.run(
        image,
        ["jupyter", "server", "--ip=0.0.0.0", "--port=8888", "--no-browser", f"--IdentityProvider.token={token}"],
        detach=True,
        ports={"8888/tcp": ("127.0.0.1", None)},
        labels={"org.jupyterhub-ds.test": "images-offline"},
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.headers["Authorization"] = f"token {token}"
        deadline = time.monotonic() + 90
        while True:  # bounded: 90 s
            try:
                if session.get(f"{url}/api/status", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, "no answer in 90 s:\n" + container.logs().decode()[-3000:]
            time.sleep(0.3)
        yield url, session
    finally:
        container.remove(force=True)


def test_running_lab_has_news_disabled_and_quiet_settings(lab_server):
    url, session = lab_server
    page = session.get(f"{url}/lab", timeout=30)
    assert page.status_code == 200
    config = json.loads(
        html.unescape(
            re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text, re.S)[1]
        )
    )
    assert config["news"] == {"disabled": True}

    news = session.get(f"{url}/lab/api/news", timeout=30)
    assert news.status_code == 200 and news.json() == {"news": []}
    update = session.get(f"{url}/lab/api/update", timeout=30)
    assert update.status_code == 200 and update.json() == {"notification": None}

    # What the frontend reads: the overrides are the plugin's defaults now.
    settings = session.get(f"{url}/lab/api/settings/{NOTIFICATION}", timeout=30).json()
    props = settings["schema"]["properties"]
    assert props["fetchNews"]["default"] == "false"
    assert props["checkForUpdates"]["default"] is False
