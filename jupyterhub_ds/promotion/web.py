"""The promotion service's pages and JSON API, behind the hub's OAuth, at the service prefix.

- ``GET  <prefix>``                 page: lanes, last runs with their records (projects of the user's namespaces; admins: all);
  admins also get "run now" and "roll back to this record" buttons (XSRF-protected forms);
- ``GET  <prefix>api/lanes``        lanes, schedules, next tick, paused, busy;
- ``GET  <prefix>api/runs[?project=&target=&limit=]``, ``GET <prefix>api/runs/<id>``;
- ``POST <prefix>api/run-now``      ``project``, ``source`` (admins; 403 otherwise);
- ``POST <prefix>api/rollback``     ``project``, ``run_id`` (admins; 403 otherwise);
- ``GET  <prefix>metrics``          Prometheus text (when metrics are enabled);
- ``GET  <prefix>review-runs/<id>`` a review run's page, ``GET <prefix>review-runs/<id>/notebooks/<n>``
  its n-th executed notebook as HTML: only for people who can read the project on GitLab;
- ``GET  <prefix>api/review-runs?project=[&iid=]``, ``GET <prefix>api/review-runs/<id>``: the same
  readers; ``POST <prefix>api/review-runs`` ``project``, ``iid``: an admin asks for a run now.

POSTs answer 202 and the run goes on in the background (``?wait=1`` waits for its end and
answers with the run). Browser forms post the same endpoints and are redirected back.

Who may read a review run is GitLab's answer, asked with the service's own token
(``ReviewRuns.may_read``: members/all, Reporter or above), for the hub user's name, which is
their GitLab username. Its pages are served with a Content-Security-Policy that allows no
script, no fetch, no form and no framing, in a sandbox, and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import json

from jinja2 import Environment, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web

from .page import PAGE, REVIEW_RUN_PAGE
from .review_runs import QueueFull
from .scheduler import next_tick

_jinja = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_page = _jinja.from_string(PAGE)
_review_page = _jinja.from_string(REVIEW_RUN_PAGE)
# a review run's pages: what the notebooks wrote is shown, nothing of it may run or reach out
REVIEW_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox"
)


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    @property
    def service(self):
        return self.settings["promotion_service"]

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def is_admin(self, user):
        groups = set(user.get("groups") or [])
        return bool(user.get("admin")) or bool(groups & set(self.service.admin_groups))

    def visible(self, user):
        """Project paths this user may see the history of (admins: all)."""
        return visible_projects(user, [p.path for p in self.service.settings.projects], self.is_admin(user))

    def require_admin(self):
        user = self.current_user
        if not self.is_admin(user):
            self.service.audit(
                "promotion.refused", user=user.get("name"), action=self.request.path, reason="not an admin"
            )
            raise web.HTTPError(
                403,
                f"{user.get('name')} may not trigger promotions or rollbacks: "
                "only hub admins (or members of PromotionService.admin_groups) may",
            )
        return user

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def send_json(self, data, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def arg(self, name):
        """A posted argument: form field, query argument or JSON key (400 when missing)."""
        value = self.get_body_argument(name, None) or self.get_query_argument(name, None)
        if value is None and self.request.headers.get("Content-Type", "").startswith("application/json"):
            try:
                value = (json.loads(self.request.body or b"{}") or {}).get(name)
            except ValueError:
                raise web.HTTPError(400, "the request body is not JSON") from None
        if not value:
            raise web.HTTPError(400, f"missing {name!r} (form field, query argument or JSON key)")
        return value

    def wants_html(self):
        """A browser form post (the page's buttons), answered with a redirect to the page."""
        kind = self.request.headers.get("Content-Type", "")
        return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


class PageHandler(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.current_user
        visible = self.visible(user)
        self.set_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
        self.finish(
            _page.render(
                user=user,
                admin=self.is_admin(user),
                xsrf=self.xsrf_token.decode(),
                lanes=[v for v in self.service.lane_views() if v["project"] in visible],
                runs=[
                    r.as_record() for r in self.service.store.runs(limit=self.service.page_runs) if r.project in visible
                ],
                review_runs=[
                    r.as_record()
                    for r in self.service.store.review_runs(limit=self.service.page_runs)
                    if r.project in visible
                ],
                prefix=self.service.prefix,
                paused=self.service.settings.paused,
                message=self.get_argument("message", ""),
            )
        )


class LanesHandler(BaseHandler):
    @web.authenticated
    def get(self):
        visible = self.visible(self.current_user)
        self.send_json(
            {
                "paused": self.service.settings.paused,
                "lanes": [v for v in self.service.lane_views() if v["project"] in visible],
            }
        )


class RunsHandler(BaseHandler):
    @web.authenticated
    def get(self, run_id=None):
        visible = self.visible(self.current_user)
        if run_id:
            run = self.service.store.get(run_id)
            if run is None or run.project not in visible:
                raise web.HTTPError(404, f"no promotion run {run_id!r}")
            return self.send_json(run.as_record())
        raw = self.get_argument("limit", "50")
        if not raw.isdigit() or not 0 < int(raw) <= 500:
            raise web.HTTPError(400, f"limit={raw!r}: give a whole number from 1 to 500")
        limit = int(raw)
        runs = self.service.store.runs(
            project=self.get_argument("project", None), target=self.get_argument("target", None), limit=limit
        )
        self.send_json({"runs": [r.as_record() for r in runs if r.project in visible]})


class ActionHandler(BaseHandler):
    """Shared by run-now and rollback: admin check, argument check, background task."""

    action = ""

    @web.authenticated
    async def post(self):
        user = self.require_admin()
        try:
            coro, what = self.start(user["name"])
        except LookupError as e:
            raise web.HTTPError(404, str(e)) from None
        task = asyncio.ensure_future(coro)
        self.service.track(task)
        if self.get_argument("wait", ""):
            run = await task
            return self.send_json({"run": run.as_record() if run else None, "message": what})
        if self.wants_html():
            return self.redirect(url_path_join(self.service.prefix, "") + "?message=" + web.escape.url_escape(what))
        self.send_json({"message": what}, status=202)


class RunNowHandler(ActionHandler):
    def start(self, user):
        project = self.service.settings.project(self.arg("project"))
        lane = project.lane(self.arg("source"))
        self.service.audit("promotion.run_now", user=user, project=project.path, source=lane.source, target=lane.target)
        return (
            self.service.promoter.run_lane(project.path, lane.source, trigger=f"run now by {user}"),
            f"run of {project.path} {lane.source} -> {lane.target} started",
        )


class RollbackHandler(ActionHandler):
    def start(self, user):
        project = self.service.settings.project(self.arg("project"))
        run_id = self.arg("run_id")
        record = self.service.store.get(run_id)
        if record is None or record.project != project.path or record.status != "promoted":
            raise LookupError(f"run {run_id!r} is not a successful promotion of {project.path}")
        self.service.audit(
            "promotion.rollback",
            user=user,
            project=project.path,
            run_id=run_id,
            target=record.target,
            commit=record.commit,
        )
        return (
            self.service.promoter.rollback(project.path, run_id, trigger=f"rollback by {user}"),
            f"rollback of {record.target} to {record.commit[:12]} started (clean run first)",
        )


class ReviewReader(BaseHandler):
    """A review run's page, notebooks and records: for people who can read its project on GitLab."""

    async def require_reader(self, project):
        name = self.current_user.get("name") or ""
        try:
            allowed = await self.service.review_runs.may_read(name, project)
        except Exception as e:  # GitLab down or refusing the service's token: say so, show nothing
            self.service.log.warning("could not ask GitLab whether %s may read %s: %s", name, project, e)
            raise web.HTTPError(
                502, f"GitLab did not say whether {name} may read {project} ({type(e).__name__}); try again in a minute"
            ) from None
        if not allowed:
            self.service.audit(
                "review.refused",
                user=name,
                project=project,
                action=self.request.path,
                reason="cannot read the project on GitLab",
            )
            raise web.HTTPError(
                403,
                f"{name} cannot read {project} on GitLab (Reporter or above), so not its review "
                "runs either; ask a maintainer of the project for access",
            )

    async def reviewed_run(self, run_id):
        run = self.service.store.get_review(run_id)
        if run is None:
            raise web.HTTPError(404, f"no review run {run_id!r}")
        await self.require_reader(run.project)
        return run

    def send_page(self, html):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", REVIEW_CSP)
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.finish(html)


class ReviewRunPage(ReviewReader):
    @web.authenticated
    async def get(self, run_id):
        run = await self.reviewed_run(run_id)
        record, prefix = run.as_record(), self.service.prefix
        self.send_page(
            _review_page.render(
                run=record,
                user=self.current_user,
                prefix=prefix,
                mr_url=f"{self.service.gitlab_url}/{run.project}/-/merge_requests/{run.mr_iid}",
                notebook_urls=[f"{prefix}review-runs/{run.id}/notebooks/{i}" for i in range(len(record["notebooks"]))],
            )
        )


class ReviewNotebookPage(ReviewReader):
    @web.authenticated
    async def get(self, run_id, index):
        run = await self.reviewed_run(run_id)
        index = int(index)
        if index >= len(run.notebooks or []) or not run.notebooks[index].get("html"):
            raise web.HTTPError(404, f"review run {run_id} has no executed notebook {index} to show")
        path = self.service.review_runs.html_path(run, index)
        try:
            html = path.read_bytes()
        except OSError:
            raise web.HTTPError(
                404, f"the executed notebook {index} of review run {run_id} is gone from the service's artifacts folder"
            ) from None
        self.send_page(html)


class ReviewRunsHandler(ReviewReader):
    @web.authenticated
    async def get(self, run_id=None):
        if run_id:
            return self.send_json((await self.reviewed_run(run_id)).as_record())
        project = self.get_argument("project", "")
        if not project:
            raise web.HTTPError(400, "give the project: api/review-runs?project=<namespace/name>[&iid=<merge request>]")
        iid = self.get_argument("iid", "")
        if iid and not iid.isdigit():
            raise web.HTTPError(400, f"iid={iid!r}: give the merge request's number, e.g. iid=3")
        try:  # a configured project only: GitLab is never asked about others
            project = self.service.settings.project(project).path
        except LookupError as e:
            raise web.HTTPError(404, str(e)) from None
        await self.require_reader(project)
        runs = self.service.store.review_runs(project=project, mr_iid=int(iid) if iid else None, limit=100)
        self.send_json({"runs": [r.as_record() for r in runs]})

    @web.authenticated
    async def post(self):
        user = self.require_admin()
        project, iid = self.arg("project"), self.arg("iid")
        if not str(iid).isdigit():
            raise web.HTTPError(400, f"iid={iid!r}: give the merge request's number, e.g. 3")
        self.service.audit("review.run_now", user=user["name"], project=project, mr=int(iid))
        try:
            run = await self.service.review_runs.request(project, int(iid), trigger=f"run now by {user['name']}")
        except LookupError as e:
            raise web.HTTPError(404, str(e)) from None
        except QueueFull as e:
            raise web.HTTPError(503, str(e)) from None
        self.send_json(
            {"run": run, "message": f"review run of {project}!{iid} at {run['commit'][:12]} is {run['status']}"},
            status=202,
        )


class MetricsHandler(BaseHandler):
    """Prometheus text; with metrics.require_auth (the default) only for a hub token (or a
    logged-in user) holding ``read:metrics``, as the hub's own /hub/metrics."""

    hub_scopes = {"read:metrics"}

    def get(self):
        service = self.service
        if not service.settings.metrics_enabled:
            raise web.HTTPError(404, "metrics are disabled (metrics.enabled: false)")
        if service.settings.metrics_require_auth and self.current_user is None:
            raise web.HTTPError(
                403,
                "the promotion metrics need a hub token with the read:metrics scope "
                "(Authorization: token <token>), as /hub/metrics does",
            )
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(service.metrics.registry))


def make_app(service):
    prefix = service.prefix
    routes = [
        (prefix, PageHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (url_path_join(prefix, "api/lanes"), LanesHandler),
        (url_path_join(prefix, "api/runs"), RunsHandler),
        (url_path_join(prefix, r"api/runs/([0-9a-f]+)"), RunsHandler),
        (url_path_join(prefix, "api/run-now"), RunNowHandler),
        (url_path_join(prefix, "api/rollback"), RollbackHandler),
        (url_path_join(prefix, "metrics"), MetricsHandler),
        (url_path_join(prefix, r"review-runs/([0-9a-f]+)"), ReviewRunPage),
        (url_path_join(prefix, r"review-runs/([0-9a-f]+)/notebooks/([0-9]{1,4})"), ReviewNotebookPage),
        (url_path_join(prefix, "api/review-runs"), ReviewRunsHandler),
        (url_path_join(prefix, r"api/review-runs/([0-9a-f]+)"), ReviewRunsHandler),
    ]
    # No tornado xsrf_cookies: HubOAuth itself refuses cookie authentication of a POST without
    # a matching _xsrf (JupyterHub's xsrf token, which the page's forms carry), and token-
    # authenticated API calls need none. Tornado's check would run before the token is read.
    return web.Application(routes, promotion_service=service, cookie_secret=service.cookie_secret)


def visible_projects(user, projects, admin):
    """Pure: admins see every project; other users the projects in a namespace they are a
    member of (hub groups are synced from GitLab, so a member of ``data-science`` sees
    ``data-science/churn-model``, as GitLab would show them that project)."""
    if admin:
        return set(projects)
    groups = set(user.get("groups") or [])

    def namespaces(path):
        parts = path.split("/")[:-1]
        return {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}

    return {p for p in projects if namespaces(p) & groups}


def lane_view(project, lane, settings, now, busy):
    return {
        "project": project.path,
        "source": lane.source,
        "target": lane.target,
        "schedule": lane.schedule,
        "paused": lane.paused or settings.paused,
        "busy": busy,
        "next_tick": None
        if lane.paused or settings.paused
        else next_tick(lane.schedule, now, settings.timezone).isoformat(),
        "image": project.image,
        "notebooks": list(project.notebooks),
    }
