"""Assemble the tornado application from each module's routes."""

from __future__ import annotations

import logging
import secrets

from tornado import web

from . import (
    api_applications,
    api_branches,
    api_commits,
    api_groups,
    api_members,
    api_merge_requests,
    api_mr_extras,
    api_projects,
    api_statuses,
    api_users,
    git_http,
    oauth,
    session,
)
from . import web as web_pages
from .base import Context, NotFoundApi

access_log = logging.getLogger("fake_gitlab.access")


def log_request(handler: web.RequestHandler) -> None:
    # The path only: query strings may carry ?access_token= / ?private_token=, never log them.
    req = handler.request
    access_log.info("%d %s %s %.1fms", handler.get_status(), req.method, req.path, 1000 * req.request_time())


def make_app(ctx: Context) -> web.Application:
    routes = []
    for module in (
        oauth,
        session,
        api_applications,
        api_users,
        api_groups,
        api_members,
        api_projects,
        api_branches,
        api_commits,
        api_merge_requests,
        api_mr_extras,
        api_statuses,
        git_http,
    ):
        routes += module.routes()
    routes.append((r"/api/v4/.*", NotFoundApi))
    routes += web_pages.routes()
    return web.Application(
        routes,
        ctx=ctx,
        cookie_secret=secrets.token_hex(32),
        xsrf_cookies=True,
        log_function=log_request,
        compress_response=False,
    )
