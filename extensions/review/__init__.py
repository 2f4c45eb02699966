"""The jupyterhub-ds single-user server extension (runs inside the user's container).

It serves the review API under ``<base_url>/jupyterhub-ds/`` (``info``, ``review/check``,
``review/submit``, ``review/status``, ``workspace``), pairs notebooks in git working copies
with ``py:percent`` scripts through jupytext's config, and clones the user's assigned
projects in the background when the server starts (``app.ReviewExtension``). Settings:
``c.ReviewConfig.*``.
"""

from .._version import __version__  # noqa: F401 (what `jupyter server extension list` shows)


def _jupyter_server_extension_points():
    # imported here so that light entry points of this package (the git credential helper) do
    # not pay for importing jupyter_server
    from .app import ReviewExtension

    return [{"module": "jupyterhub_ds.review", "app": ReviewExtension}]


def _jupyter_labextension_paths():
    # the prebuilt frontend (extensions/labextension/build.sh), for `jupyter labextension develop`
    return [{"src": "labextension", "dest": "@jupyterhub-ds/review"}]
