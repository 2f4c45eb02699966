"""``jupyterhub-ds-promotion``: the hub-managed promotion service (a traitlets Application).

The hub starts it (``c.JupyterHub.services``, written by ``jupyterhub_ds.config.apply``) with
the promotion settings as JSON in ``JUPYTERHUB_DS_PROMOTION_CONFIG``, GitLab's token in
``JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN`` and the ``JUPYTERHUB_SERVICE_*`` variables. At start
it finishes runs a previous process left unfinished, then serves its page, ticks the lanes
on their cron schedules (``scheduler.due_lanes``), unless paused, and gives merge requests
their review runs (``review_runs.ReviewRuns``: it looks for updated merge requests every
``c.ReviewRuns.poll_interval`` seconds).

``--once`` runs without the web side: finish unfinished runs, run the lanes named by
``--run-now project:source`` (any number), print each run as a JSON line, exit (0: every
run promoted or nothing to do; 1: a run failed). Handy from cron or a terminal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from traitlets import Bool, Dict, Float, Integer, List, Set, Type, Unicode, default, validate
from traitlets.config import Application

from .._version import __version__
from ..audit import PATH_ENV as AUDIT_PATH_ENV
from .observe import Audit, Metrics
from .records import Store, utcnow
from .review_runs import ReviewRuns
from .scheduler import due_lanes, seconds_until_next
from .settings import CONFIG_ENV, settings_from_json

TOKEN_ENV = "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN"
DB_PASSWORD_ENV = "JUPYTERHUB_DS_PROMOTION_DB_PASSWORD"
GITLAB_URL_ENV = "JUPYTERHUB_DS_PROMOTION_GITLAB_URL"


class PromotionService(Application):
    name = "jupyterhub-ds-promotion"
    version = __version__
    description = __doc__

    classes = [ReviewRuns]  # c.ReviewRuns.* (--help-all lists them)

    aliases = {
        "run-now": "PromotionService.run_now",
        "log-level": "Application.log_level",
        "config": "PromotionService.config_file",
    }
    flags = {
        "once": ({"PromotionService": {"once": True}}, "Finish unfinished runs, run --run-now lanes, exit."),
    }

    @default("log_level")
    def _log_level_default(self):
        return logging.INFO

    @default("log_format")
    def _log_format_default(self):
        # the audit events are the JSON after "] " (one object per line)
        return "[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"

    def get_default_logging_config(self):
        """The service's handler serves the package's loggers too (audit events, clean runs)."""
        config = super().get_default_logging_config()
        if "console" in config.get("handlers", {}):
            config["loggers"]["jupyterhub_ds"] = {"level": "DEBUG", "handlers": ["console"], "propagate": False}
        return config

    config_file = Unicode("", help="A Python config file (c.PromotionService.…) loaded at start.").tag(config=True)

    settings_json = Unicode(
        help=f"""The promotion settings as JSON (the admin YAML's promotion
        section with profile limits). Default: env {CONFIG_ENV}, written by the hub."""
    ).tag(config=True)

    @default("settings_json")
    def _settings_json_default(self):
        value = os.environ.get(CONFIG_ENV)
        if not value:
            raise ValueError(
                f"no promotion settings: set {CONFIG_ENV} (the hub does it from the admin YAML's "
                "promotion: section) or PromotionService.settings_json"
            )
        return value

    gitlab_url = Unicode(
        help=f"""GitLab's base URL, e.g. https://gitlab.example.com. Default: the
        settings' gitlab_url, else env {GITLAB_URL_ENV}, else env GITLAB_URL."""
    ).tag(config=True)

    @default("gitlab_url")
    def _gitlab_url_default(self):
        url = (
            json.loads(self.settings_json).get("gitlab_url")
            or os.environ.get(GITLAB_URL_ENV)
            or os.environ.get("GITLAB_URL")
        )
        if not url:
            raise ValueError(
                f"no GitLab URL for the promotion service: set env {GITLAB_URL_ENV} (or GITLAB_URL) "
                "or PromotionService.gitlab_url"
            )
        return url.rstrip("/")

    gitlab_token = Unicode(
        help=f"""Token the service uses on GitLab (api scope, may push the lane
        branches). Default: env {TOKEN_ENV}. Never logged."""
    ).tag(config=True)

    @default("gitlab_token")
    def _gitlab_token_default(self):
        return os.environ.get(TOKEN_ENV, "")

    database_url = Unicode(
        help=f"""Record store URL; default: the settings' database_url with
        the password from env {DB_PASSWORD_ENV}."""
    ).tag(config=True)

    @default("database_url")
    def _database_url_default(self):
        from jupyterhub_ds.config.apply import with_password

        return with_password(self.settings.database_url, os.environ.get(DB_PASSWORD_ENV))

    artifacts_dir = Unicode(
        help="""Where executed notebooks are kept (one folder per run);
        default: beside the SQLite file, else ./jupyterhub_ds_promotion_artifacts."""
    ).tag(config=True)

    @default("artifacts_dir")
    def _artifacts_dir_default(self):
        url = self.database_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return str(Path(url[len("sqlite:///") :]).resolve().parent / "jupyterhub_ds_promotion_artifacts")
        return str(Path.cwd() / "jupyterhub_ds_promotion_artifacts")

    public_url = Unicode(
        help="""The service's address for browsers, e.g.
        https://hub.example.com/services/promotion/ (links in commit statuses and notes on GitLab).
        Default: env JUPYTERHUB_PUBLIC_URL, which the hub sets when its public_url is configured
        (the admin YAML's hub.public_url); empty: statuses and notes carry no links."""
    ).tag(config=True)

    @default("public_url")
    def _public_url_default(self):
        return os.environ.get("JUPYTERHUB_PUBLIC_URL", "")

    cache_dir = Unicode(
        help="Bare git caches of the promoted projects; default: <artifacts_dir>/../jupyterhub_ds_promotion_git."
    ).tag(config=True)

    @default("cache_dir")
    def _cache_dir_default(self):
        return str(Path(self.artifacts_dir).parent / "jupyterhub_ds_promotion_git")

    run_timeout = Float(
        3600.0,
        help="""Seconds a whole clean run (all notebooks and tests) may take
        before its container is killed and removed; cells are bounded by each project's
        cell_timeout too.""",
    ).tag(config=True)

    docker_timeout = Integer(120, help="Seconds one Docker API call may take.").tag(config=True)

    run_limits = Dict(
        help="""Limits of every clean run whose project's profile does not set them
        (cpu_limit in CPUs, mem_limit in bytes, pids_limit): a clean run never goes unlimited on
        the hub's Docker host. Default: clean_run.DEFAULT_LIMITS (2 CPUs, 4 GiB, 1024
        processes)."""
    ).tag(config=True)

    @default("run_limits")
    def _run_limits_default(self):
        from .clean_run import DEFAULT_LIMITS

        return dict(DEFAULT_LIMITS)

    audit_path = Unicode(
        help=f"""The hub's audit file (JSON lines) the service appends its
        events to, beside the hub's. Default: env {AUDIT_PATH_ENV}, set by the hub from the admin
        YAML's audit.path; empty: the events go to the log only."""
    ).tag(config=True)

    @default("audit_path")
    def _audit_path_default(self):
        return os.environ.get(AUDIT_PATH_ENV, "")

    admin_groups = Set(
        Unicode(),
        help="""Hub groups whose members may run now and roll back,
        besides hub admins.""",
    ).tag(config=True)

    tick_interval = Float(
        60.0,
        help="""Longest sleep between schedule checks (seconds); the loop
        wakes at the next cron time anyway.""",
    ).tag(config=True)

    page_runs = Integer(50, help="How many recent runs the page shows.").tag(config=True)

    workers = Integer(4, help="Threads for blocking Docker calls (clean runs at once).").tag(config=True)

    once = Bool(False, help="Finish unfinished runs, run the --run-now lanes, then exit (no web).").tag(config=True)

    run_now = List(Unicode(), help="Lanes to run at once, as project:source (with --once).").tag(config=True)

    @validate("run_now")
    def _validate_run_now(self, proposal):
        for item in proposal["value"]:
            if ":" not in item:
                raise ValueError(f"--run-now {item!r}: write project:source, e.g. data-science/churn-model:main")
        return proposal["value"]

    promoter_class = Type(
        "jupyterhub_ds.promotion.promote.Promoter",
        klass="jupyterhub_ds.promotion.promote.Promoter",
        help="""The class that drives promotion runs (a Promoter subclass), as JupyterHub's
        spawner_class: made once at start with this service as its parent, so it is configured
        through c.<ClassName>.* like any traitlets class.""",
    ).tag(config=True)

    # --- set-up --------------------------------------------------------------------------

    @property
    def settings(self):
        if not hasattr(self, "_settings"):
            self._settings = settings_from_json(self.settings_json)
        return self._settings

    @property
    def prefix(self):
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/promotion/")
        return prefix if prefix.endswith("/") else prefix + "/"

    def initialize(self, argv=None):
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
            self.update_config(self.cli_config)  # the command line wins over the file
        self.clock = utcnow
        self.audit = Audit(path=self.audit_path or None)
        self.metrics = Metrics()
        self.cookie_secret = secrets.token_bytes(32)
        self._tasks = set()
        self.stopping = threading.Event()  # set at SIGTERM/SIGINT: no clean run starts any more

    def make_promoter(self):
        import docker

        from .remote import RemoteProject

        self.store = Store(self.database_url)
        self.metrics.seed(self.store, self.settings.lanes)  # last success and failing streak per lane
        self.docker = docker.from_env(timeout=self.docker_timeout)
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="promotion-docker")
        remotes = {}

        def remote_for(path):
            if path not in remotes:
                remotes[path] = RemoteProject(self.gitlab_url, path, self.gitlab_token, self.cache_dir)
            return remotes[path]

        Path(self.artifacts_dir).mkdir(parents=True, exist_ok=True)
        self.promoter = self.promoter_class(
            self.settings,
            self.store,
            self.docker,
            remote_for,
            self.artifacts_dir,
            parent=self,
            log=self.log,
            run_timeout=self.run_timeout,
            audit=self.audit,
            metrics=self.metrics,
            executor=self.executor,
            run_limits=self.run_limits,
            stopping=self.stopping,
        )
        self.review_runs = ReviewRuns(
            self.settings,
            self.store,
            self.promoter,
            remote_for,
            self.artifacts_dir,
            public_url=self.public_url,
            audit=self.audit,
            metrics=self.metrics,
            executor=self.executor,
            stopping=self.stopping,
            track=self.track,
            parent=self,
            log=self.log,
        )
        return self.promoter

    def track(self, task):
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.log.error("promotion task failed: %s", exc, exc_info=exc)
            self.audit("promotion.error", error=str(exc))

    def lane_views(self):
        from .web import lane_view

        now = self.clock()
        return [
            lane_view(p, lane, self.settings, now, self.promoter.busy(p.path, lane.target))
            for p in self.settings.projects
            for lane in p.lanes
        ]

    # --- scheduling ----------------------------------------------------------------------

    def schedule_once(self, now):
        """One scheduler step at ``now``: start the due lanes' runs; return the Due items.
        New lanes start counting at ``now``; a paused service (or lane) starts nothing."""
        last = self.store.last_ticks()
        for lane in self.settings.lanes:
            if lane.key not in last:
                self.store.set_last_tick(lane.key, now)
                last[lane.key] = now
        due = due_lanes(self.settings.lanes, last, now, self.settings.timezone, paused=self.settings.paused)
        for item in due:
            self.store.set_last_tick(item.lane.key, item.tick)
            self.track(
                asyncio.ensure_future(
                    self.promoter.run_lane(item.lane.project, item.lane.source, trigger="schedule", tick=item.tick)
                )
            )
        return due

    async def scheduler_loop(self, stop):
        while not stop.is_set():
            now = self.clock()
            try:
                self.schedule_once(now)
            except Exception:  # keep ticking; the error is in the log
                self.log.exception("promotion scheduler step failed")
            wait = seconds_until_next(
                self.settings.lanes, now, self.settings.timezone, paused=self.settings.paused, cap=self.tick_interval
            )
            try:
                await asyncio.wait_for(stop.wait(), max(wait, 0.5))
            except asyncio.TimeoutError:
                pass

    # --- running -------------------------------------------------------------------------

    async def run_once(self):
        promoter = self.make_promoter()
        runs = [r for r in await promoter.resume_all() if r is not None]
        errors = 0
        for item in self.run_now:
            project, source = item.rsplit(":", 1)
            try:
                run = await promoter.run_lane(project, source, trigger="run now (--once)")
            except Exception as e:  # GitLab unreachable, unknown lane...: say which and go on
                self.log.error("run of %s failed before it started: %s", item, e)
                errors += 1
                continue
            if run is not None:
                runs.append(run)
        for run in runs:
            print(
                json.dumps({k: v for k, v in run.as_record().items() if k not in ("pip_freeze", "log_tail")}),
                flush=True,
            )
        return 0 if not errors and all(r.status == "promoted" for r in runs) else 1

    async def serve(self):
        from .web import make_app

        promoter = self.make_promoter()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{self.settings.port}"))
        app = make_app(self)
        server = app.listen(url.port or self.settings.port, address=url.hostname or "127.0.0.1", xheaders=True)
        self.log.info(
            "promotion service at %s (prefix %s), %d lanes", url.geturl(), self.prefix, len(self.settings.lanes)
        )
        self.track(asyncio.ensure_future(self._resume_then_schedule(promoter, stop)))
        await stop.wait()
        server.stop()
        self.log.info("stopping: unfinished runs are resumed at the next start")
        await self._stop_runs()

    async def _resume_then_schedule(self, promoter, stop):
        try:
            await promoter.resume_all()  # (removes every clean-run container a killed service left)
        except Exception:
            self.log.exception("resuming unfinished promotion runs failed; they are retried at the next start")
        self.review_runs.requeue_interrupted()
        self.review_runs.start_ready()
        self.track(asyncio.ensure_future(self.review_runs.poll_loop(stop)))
        await self.scheduler_loop(stop)

    async def _stop_runs(self):
        """Stop every run where it is (its record says where; the next start resumes it): no new
        clean run starts, the tasks are cancelled and the running containers removed, which ends
        the threads waiting on them."""
        self.stopping.set()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self._remove_running_containers)

    def _remove_running_containers(self):
        from .clean_run import remove_leftovers

        for run in self.store.unfinished():
            remove_leftovers(self.docker, run.id)
        for run in self.store.review_runs(status="running", limit=1000):
            remove_leftovers(self.docker, run.id)

    def start(self):
        try:
            code = asyncio.run(self.run_once() if self.once else self.serve())
        finally:
            if hasattr(self, "executor"):
                self.executor.shutdown(wait=True, cancel_futures=True)
        if self.once:
            self.exit(code)


main = PromotionService.launch_instance
