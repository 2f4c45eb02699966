"""HTTP handlers of the review server extension (the JSON they answer: ``api_contract.json``).

Thin: parse JSON, call the ReviewService, map ReviewError to its status and ``{"message"}``.
"""

import json

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from .._version import __version__
from .errors import ReviewError

URL_PREFIX = "jupyterhub-ds"
AUTH_RESOURCE = "contents"  # submitting reads the user's files and writes to their git remote
# where the extension app puts its ReviewService and Workspace in the web app's settings
SERVICE_KEY = "jupyterhub_ds_review"
WORKSPACE_KEY = "jupyterhub_ds_workspace"


class InfoHandler(APIHandler):
    """``GET /jupyterhub-ds/info``: the extension's version, for clients and health checks."""

    @tornado.web.authenticated
    def get(self):
        self.finish(json.dumps({"name": "jupyterhub-ds", "version": __version__}))


class ReviewHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self):
        return self.settings[SERVICE_KEY]

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise ReviewError(400, "the request body is not JSON; send {\"path\": \"<notebook path>\"}") from None
        if not isinstance(data, dict):
            raise ReviewError(400, "the request body must be a JSON object")
        return data

    async def answer(self, work):
        self.service.warm_up()
        try:
            result = await work()
        except ReviewError as e:
            self.set_status(e.status)
            self.finish(json.dumps(e.body()))
            return
        self.finish(json.dumps(result))


class CheckHandler(ReviewHandler):
    """``POST review/check``: the gate results for a notebook, nothing committed."""

    @tornado.web.authenticated
    @authorized
    async def post(self):
        await self.answer(lambda: self.service.check(self.body().get("path")))


class SubmitHandler(ReviewHandler):
    """``POST review/submit``: gates, commit on the review branch, push, create/update the MR."""

    @tornado.web.authenticated
    @authorized
    async def post(self):
        async def work():
            data = self.body()
            return await self.service.submit(data.get("path"), data.get("title") or "", data.get("description"),
                                             data.get("target_branch") or None)

        await self.answer(work)


class StatusHandler(ReviewHandler):
    """``GET review/status?path=``: state, approvals and merged flag of the user's submissions."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        await self.answer(lambda: self.service.status(self.get_argument("path", None)))


class WorkspaceHandler(ReviewHandler):
    """``GET workspace``: the outcome of cloning/fetching the assigned projects at server start."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.finish(json.dumps(self.settings[WORKSPACE_KEY].status()))


# below <base_url>/jupyterhub-ds/
ROUTES = [("info", InfoHandler), ("review/check", CheckHandler), ("review/submit", SubmitHandler),
          ("review/status", StatusHandler), ("workspace", WorkspaceHandler)]
