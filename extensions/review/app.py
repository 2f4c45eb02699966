"""``ReviewExtension``: the review server extension as a jupyter_server ``ExtensionApp``.

It owns what outlives a request (the thread pool, the summary worker and its standby process,
started at the first review request, the workspace clone) and gives them back in ``stop_extension`` when the server stops.
Settings are ``c.ReviewConfig.*`` (:mod:`.config`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp

from .._version import __version__
from .config import ReviewConfig
from .handlers import ROUTES, SERVICE_KEY, URL_PREFIX, WORKSPACE_KEY
from .pairing import PairOnSave, pair_working_copies
from .policy import PolicyError
from .service import ReviewService
from .summary_worker import SummaryWorker
from .workspace import Workspace

POOL_THREADS = 16  # blocking calls at once: GitPython, python-gitlab, the hub, file reads


class ReviewExtension(ExtensionApp):
    name = "jupyterhub_ds_review_app"
    load_other_extensions = True

    def initialize_settings(self):
        serverapp = self.serverapp
        settings = ReviewConfig(parent=self, log=self.log)
        try:
            commit_notebooks = settings.review_policy().commit_notebooks
        except PolicyError as e:  # the API refuses submits with this message; the server still starts
            self.log.error("jupyterhub-ds: %s", e)
            commit_notebooks = False
        self.executor = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="jupyterhub-ds-review")
        self.worker = SummaryWorker(log=self.log, standby=settings.summary_standby, executor=self.executor)
        hook = PairOnSave(serverapp.root_dir, commit_notebooks)
        self.service = ReviewService(
            settings, serverapp.root_dir, self.log, hook, executor=self.executor, worker=self.worker
        )
        self.workspace = Workspace(
            projects=settings.workspace,
            root_dir=serverapp.root_dir,
            directory=settings.workspace_dir,
            gitlab_url=settings.gitlab_url,
            token_source=settings.token_source,
            credential_helper=settings.git_credential_helper,
            commit_notebooks=commit_notebooks,
            timeout=settings.git_timeout,
            log=self.log,
        )
        self.settings.update({SERVICE_KEY: self.service, WORKSPACE_KEY: self.workspace})
        # working copies already on disk (earlier clones, or cloned by hand) get paired from the first save
        try:
            pair_working_copies(Path(serverapp.root_dir) / settings.workspace_dir, commit_notebooks)
        except OSError as e:
            self.log.warning("jupyterhub-ds: could not set up notebook pairing: %s", e)
        # after every extension has loaded (jupytext swaps the contents manager in its own load)
        serverapp.io_loop.add_callback(lambda: serverapp.contents_manager.register_post_save_hook(hook))
        # the summary worker process and the import-name table are made at the first review
        # request (ReviewService.warm_up), not here: a server's start stays as short as it can
        self._clone = None
        if settings.clone_on_start and self.workspace.statuses:
            serverapp.io_loop.add_callback(self._start_clone)
        self.log.info(
            "jupyterhub-ds review extension %s loaded (%d workspace projects)",
            __version__,
            len(self.workspace.statuses),
        )

    def initialize_handlers(self):
        self.handlers.extend((f"{URL_PREFIX}/{path}", handler) for path, handler in ROUTES)

    def _start_clone(self):
        self._clone = asyncio.ensure_future(self.workspace.run())

    async def stop_extension(self):
        """The server stops: the clone, the requests' background work, the summary worker
        processes and the pool go."""
        if self._clone is not None and not self._clone.done():
            self._clone.cancel()
        await self.service.stop()
        self.worker.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
