"""/applications (admin): register OAuth applications while running, as GitLab's API does.

Lets a test register the hub's callback URL once it knows the hub's port.
"""

from __future__ import annotations

import secrets

from .base import ApiError, ApiHandler, forbidden, not_found
from .model import Application
from .pagination import paginate
from .tokens import KNOWN_SCOPES


def app_json(app: Application, reveal: bool = False) -> dict:
    data = {
        "id": app.id,
        "application_id": app.uid,
        "application_name": app.name,
        "callback_url": "\n".join(app.redirect_uris),
        "confidential": app.confidential,
    }
    if reveal:
        data["secret"] = app.secret
    return data


class ApplicationsHandler(ApiHandler):
    def _admin(self):
        if not self.authenticate().is_admin:
            raise forbidden()

    def get(self):
        self._admin()
        apps = sorted(self.store.applications.values(), key=lambda a: a.id)
        self.send_json([app_json(a) for a in paginate(self, apps)])

    def post(self):
        self._admin()
        name = self.param("name", required=True)
        redirect = self.param("redirect_uri", required=True)
        scopes = str(self.param("scopes", required=True)).replace(",", " ").split()
        if not set(scopes) <= set(KNOWN_SCOPES):
            raise ApiError(400, {"message": {"scopes": ["doesn't match configured on the server."]}})
        app = Application(
            self.store.next_id(),
            name,
            secrets.token_hex(32),
            "gloas-" + secrets.token_hex(32),
            [u for u in str(redirect).split() if u],
            scopes,
            trusted=self.flag("trusted"),
            confidential=self.flag("confidential", True),
        )
        self.store.applications[app.uid] = app
        self.send_json(app_json(app, reveal=True), 201)


class ApplicationHandler(ApiHandler):
    def delete(self, app_id):
        if not self.authenticate().is_admin:
            raise forbidden()
        app = next((a for a in self.store.applications.values() if str(a.id) == app_id), None)
        if app is None:
            raise not_found("Application")
        del self.store.applications[app.uid]
        self.set_status(204)
        self.finish()


def routes() -> list:
    return [(r"/api/v4/applications", ApplicationsHandler), (r"/api/v4/applications/(\d+)", ApplicationHandler)]
