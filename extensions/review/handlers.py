"""HTTP handlers of the review server extension."""

import json

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .._version import __version__

URL_PREFIX = "jupyterhub-ds"


class InfoHandler(APIHandler):
    """``GET /jupyterhub-ds/info``: the extension's version, for clients and health checks."""

    @tornado.web.authenticated
    def get(self):
        self.finish(json.dumps({"name": "jupyterhub-ds", "version": __version__}))


def setup_handlers(web_app):
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [(url_path_join(base_url, URL_PREFIX, "info"), InfoHandler)],
    )
