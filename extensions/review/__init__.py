"""The jupyterhub-ds single-user server extension (runs inside the user's container).

It serves the review API under ``<base_url>/jupyterhub-ds/``. Today it answers
``GET info`` (version and policy in force) so the hub, the frontend and the image smoke
test can tell the extension is loaded; the submit-for-review handlers join it here.
"""

from .._version import __version__


def _jupyter_server_extension_points():
    return [{"module": "jupyterhub_ds.review"}]


def _load_jupyter_server_extension(server_app):
    # imported here so that light entry points of this package (the git credential
    # helper) do not pay for importing jupyter_server
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("jupyterhub-ds review extension %s loaded", __version__)
