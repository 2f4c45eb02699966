"""HTTP handlers of the review server extension (the JSON they answer: ``api_contract.json``).

Thin: parse JSON, call the ReviewService, map ReviewError to its status and ``{"message"}``.
"""

import json
import time

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from .._version import __version__
from . import hub_events
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
            raise ReviewError(400, 'the request body is not JSON; send {"path": "<notebook path>"}') from None
        if not isinstance(data, dict):
            raise ReviewError(400, "the request body must be a JSON object")
        return data

    async def answer(self, work):
        """Run ``work`` and answer its result or its ReviewError; -> (result, error)."""
        self.service.warm_up()
        try:
            result = await work()
        except ReviewError as e:
            self.set_status(e.status)
            self.finish(json.dumps(e.body()))
            return None, e
        self.finish(json.dumps(result))
        return result, None

    def report(self, event):
        """Hand ``event`` to the hub's audit trail in the background (after the answer)."""
        service, log = self.service, self.log

        async def send():
            try:
                await service.blocking(service.settings.event_reporter, event, timeout=hub_events.TIMEOUT + 1)
            except Exception as e:  # the hub refused it, or is down: the submit stands
                log.warning("jupyterhub-ds: the hub did not take the %s event: %s", event.get("action"), e)

        service.background(send())


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
        started, data = time.monotonic(), {}

        async def work():
            data.update(self.body())
            return await self.service.submit(
                data.get("path"), data.get("title") or "", data.get("description"), data.get("target_branch") or None
            )

        result, error = await self.answer(work)
        seconds = time.monotonic() - started
        # the outcome goes to the hub's audit trail and metrics (the hub writes it, not this server)
        self.report(
            hub_events.submitted(result, seconds)
            if error is None
            else hub_events.refused(data.get("path"), error.status, error.gates, seconds)
        )


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
ROUTES = [
    ("info", InfoHandler),
    ("review/check", CheckHandler),
    ("review/submit", SubmitHandler),
    ("review/status", StatusHandler),
    ("workspace", WorkspaceHandler),
]
