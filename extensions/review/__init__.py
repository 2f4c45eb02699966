"""The jupyterhub-ds single-user server extension (runs inside the user's container).

It serves the review API under ``<base_url>/jupyterhub-ds/`` (``info``, ``review/check``,
``review/submit``, ``review/status``, ``workspace``), pairs notebooks in git working copies
with ``py:percent`` scripts through jupytext's config, and clones the user's assigned
projects in the background when the server starts. Settings: ``c.ReviewConfig.*``.
"""

from .._version import __version__


def _jupyter_server_extension_points():
    return [{"module": "jupyterhub_ds.review"}]


def _jupyter_labextension_paths():
    # the prebuilt frontend (extensions/labextension/build.sh), for `jupyter labextension develop`
    return [{"src": "labextension", "dest": "@jupyterhub-ds/review"}]


def _load_jupyter_server_extension(server_app):
    # imported here so that light entry points of this package (the git credential
    # helper) do not pay for importing jupyter_server
    import asyncio
    import threading
    from pathlib import Path

    from .config import ReviewConfig
    from .handlers import setup_handlers
    from .packages import installed_map
    from .pairing import PairOnSave, pair_working_copies
    from .policy import PolicyError
    from .service import ReviewService
    from .workspace import Workspace

    settings = ReviewConfig(parent=server_app, log=server_app.log)
    try:
        commit_notebooks = settings.review_policy().commit_notebooks
    except PolicyError as e:  # the API refuses submits with this message; the server still starts
        server_app.log.error("jupyterhub-ds: %s", e)
        commit_notebooks = False
    hook = PairOnSave(server_app.root_dir, commit_notebooks)
    service = ReviewService(settings, server_app.root_dir, server_app.log, hook)
    workspace = Workspace(projects=settings.workspace, root_dir=server_app.root_dir, directory=settings.workspace_dir,
                          gitlab_url=settings.gitlab_url, token_source=settings.token_source,
                          credential_helper=settings.git_credential_helper,
                          commit_notebooks=commit_notebooks, timeout=settings.git_timeout, log=server_app.log)
    setup_handlers(server_app.web_app, service, workspace)
    # working copies already on disk (earlier clones, or cloned by hand) get paired from the first save
    try:
        pair_working_copies(Path(server_app.root_dir) / settings.workspace_dir, commit_notebooks)
    except OSError as e:
        server_app.log.warning("jupyterhub-ds: could not set up notebook pairing: %s", e)
    # after every extension has loaded (jupytext swaps the contents manager in its own load)
    server_app.io_loop.add_callback(lambda: server_app.contents_manager.register_post_save_hook(hook))
    # the nbdime worker process (and its standby) and the import-name table are made now, not on
    # the first submit
    def warm_up():
        service.worker.warm_up()
        installed_map()

    threading.Thread(target=warm_up, name="jupyterhub-ds-warm-up", daemon=True).start()
    if settings.clone_on_start and workspace.statuses:
        server_app.io_loop.add_callback(lambda: asyncio.ensure_future(workspace.run()))
    server_app.log.info("jupyterhub-ds review extension %s loaded (%d workspace projects)", __version__,
                        len(workspace.statuses))
