"""ProfileSpawnerMixin: what the Docker and the Swarm spawner share.

The spawn form follows kubespawner's three steps: *render* (``options_form`` from a packaged
Jinja template the admin may override), *parse* (``options_from_form`` builds
``user_options`` only) and *apply* (``load_user_options``, a step the spawner owns and runs at
every ``start()``, for the form and the REST API alike: it re-validates the options against
what this user may have, then applies the profile and the hardening).

JupyterHub's ``apply_user_options`` and ``pre_spawn_hook`` stay the admin's: they run first,
and what they set is merged with ours, never the other way round: profile limits, image and
hardening always hold; a setting that would weaken the hardening is refused with the reason
(``container.merge_host_config`` for containers, ``service.merge_*`` for Swarm services).

Also here: progress events for the spawn page, the server's token scopes, and the
``start``/``stop`` steps both spawners run around dockerspawner's own. The two spawner
classes (``docker.ProfileDockerSpawner``, ``swarm.ProfileSwarmSpawner``) only say how a
container or a service is made from it.
"""

import asyncio
import contextlib
import functools
import inspect
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web
from traitlets import Bool, Dict, Float, Int, List, Unicode, default
from traitlets.config import Configurable

from jupyterhub_ds.audit import EVENTS_SCOPE
from jupyterhub_ds.audit import hub as audit_hub

from . import container
from .profiles import ProfileError, allowed_profiles, default_profile, resolve, summary, workspace_for

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), "templates")
PORT_CHECKS_PER_SECOND = 100  # one refused TCP connection attempt costs the hub about 60 us


@functools.lru_cache(maxsize=8)
def _form_environment(search_path: tuple) -> Environment:
    """One Jinja environment per template search path: it compiles the form once (and again
    when its file changes); a new environment per spawn page compiled it at every view."""
    return Environment(
        loader=FileSystemLoader(list(search_path)), autoescape=select_autoescape(default_for_string=True, default=True)
    )


class ProfileSpawnerMixin(Configurable):
    """Profiles, hardening, the spawn form and progress events; shared by the Docker and Swarm spawners.

    Put it before dockerspawner's class: ``class X(ProfileSpawnerMixin, DockerSpawner)``."""

    profiles = List(
        Dict(),
        help="""Normalized profiles, as produced from the admin YAML's ``profiles`` section
        (see jupyterhub_ds.spawner.profiles for the keys). The form shows the ones the user's
        GitLab groups allow; anything else is refused at start, also through the REST API.""",
    ).tag(config=True)

    form_template = Unicode(
        "",
        help="""Path of a Jinja template that replaces the packaged spawn form
        (jupyterhub_ds/spawner/templates/form.html). It gets ``profiles`` (each with
        ``summary``), ``default_slug`` and ``spawner``.""",
    ).tag(config=True)

    home_volume_template = Unicode(
        "jupyterhub-ds-home-{username}",
        help="Docker named volume for the user's persistent home; {username} is escaped by dockerspawner.",
    ).tag(config=True)

    home_mount = Unicode("/home/jovyan", help="Where the home volume is mounted in the container.").tag(config=True)

    shared_mounts = List(
        Dict(),
        help="""Shared data mounted into every container: ``[{"source": "/srv/data", "target":
        "/home/jovyan/shared", "mode": "ro"}]``. Read-only unless the admin says ``rw``.""",
    ).tag(config=True)

    run_as_user = Unicode("1000", help="uid (or uid:gid) the server runs as inside the container.").tag(config=True)
    no_new_privileges = Bool(True, help="Set Docker's no-new-privileges security option.").tag(config=True)
    cap_drop = List(Unicode(), ["ALL"], help="Linux capabilities dropped (JupyterLab needs none).").tag(config=True)
    cap_add = List(Unicode(), [], help="Linux capabilities added back after cap_drop.").tag(config=True)
    default_pids_limit = Int(
        1024, allow_none=True, help="Process limit when the profile sets none (None: unlimited)."
    ).tag(config=True)
    allow_swap = Bool(False, help="If False (default) the container's memory+swap limit equals its memory limit.").tag(
        config=True
    )
    read_only_rootfs = Bool(
        False, help="Mount the image's file system read-only (the home volume and a /tmp tmpfs stay writable)."
    ).tag(config=True)
    runtime = Unicode(
        "", help="OCI runtime of the user containers, e.g. runsc (gVisor); empty: the engine's default."
    ).tag(config=True)

    review_policy = Dict(
        help="""Review policy passed to the single-user extension as JSON in the environment
        variable JUPYTERHUB_DS_REVIEW_POLICY (never secrets).""",
    ).tag(config=True)

    container_gitlab_url = Unicode(
        "",
        help="""GitLab URL as seen from inside the containers, when it differs from the hub's
        ``gitlab_url`` (e.g. a split-horizon DNS name). Default: the authenticator's gitlab_url.""",
    ).tag(config=True)

    isolate_containers = Bool(
        True,
        help="""Create ``network_name`` (if it does not exist) as a bridge network with
        inter-container traffic disabled, so users' containers cannot reach each other.
        The hub still reaches every container, and containers reach the hub API through the
        network's gateway address (set ``hub_connect_ip`` to it).""",
    ).tag(config=True)

    workspace_directory = Unicode("projects", help="Folder under the home where workspace projects are cloned.").tag(
        config=True
    )

    workspace_projects = List(
        Dict(),
        help="""GitLab projects cloned into ~/projects for members of the listed groups:
        ``[{"project": "ns/name", "groups": ["data-science"], "ref": None}]``; empty
        ``groups``: everyone. Passed to the container as JSON in JUPYTERHUB_DS_WORKSPACE.""",
    ).tag(config=True)

    # ---- helpers -----------------------------------------------------------------------

    def user_group_names(self):
        """The user's JupyterHub groups (synced from GitLab at login and refresh)."""
        return sorted(g.name for g in self.user.groups)

    def hardening(self):
        return container.Hardening(
            user=self.run_as_user,
            no_new_privileges=self.no_new_privileges,
            cap_drop=tuple(self.cap_drop),
            cap_add=tuple(self.cap_add),
            default_pids_limit=self.default_pids_limit,
            swap=self.allow_swap,
            read_only_rootfs=self.read_only_rootfs,
            runtime=self.runtime or None,
        )

    # ---- render ------------------------------------------------------------------------

    @default("options_form")
    def _default_options_form(self):
        return self._render_options_form

    def _render_options_form(self, spawner):
        groups = self.user_group_names()
        allowed = allowed_profiles(self.profiles, groups)
        default = default_profile(self.profiles, groups)
        if self.form_template:
            env = _form_environment((os.path.dirname(self.form_template), TEMPLATE_DIR))
            name = os.path.basename(self.form_template)
        else:
            env = _form_environment((TEMPLATE_DIR,))
            name = "form.html"
        return env.get_template(name).render(
            profiles=[dict(p, summary=summary(p)) for p in allowed],
            default_slug=default["slug"] if default else None,
            spawner=self,
        )

    # ---- parse -------------------------------------------------------------------------

    def options_from_form(self, formdata):
        """Form fields -> user_options. Validates early so the form is re-shown with the error."""
        options = {}
        profile = (formdata.get("profile") or [""])[0]
        if profile:
            options["profile"] = profile
            # each profile with several images has its own select, named image-<slug>
            image = (formdata.get(f"image-{profile}") or [""])[0]
            if image:
                options["image"] = image
        try:
            resolve(self.profiles, self.user_group_names(), options)
        except ProfileError as e:
            raise web.HTTPError(e.status, e.message) from None
        return options

    # ---- apply -------------------------------------------------------------------------

    def load_user_options(self):
        """Re-validate ``user_options`` for this user and apply the profile and the hardening.

        The spawner's own step (kubespawner's shape), run at every start after the admin's
        hooks; it sets the profile's image, limits, mounts and environment, and keeps the
        hardening to merge with the admin's settings when the container is created."""
        try:
            resolved = resolve(self.profiles, self.user_group_names(), self.user_options or {})
        except ProfileError as e:
            self.log.warning("Refused spawn options for %s: %s", self._log_name, e.message)
            raise web.HTTPError(e.status, e.message) from None
        self.resolved_profile = resolved
        hardening = self.hardening()
        self.image = resolved.image
        # dockerspawner checks an image the user chose against allowed_images: the profile's choice
        self.allowed_images = [resolved.image]
        self.cpu_limit = resolved.cpu_limit
        self.mem_limit = resolved.mem_limit
        self.cpu_guarantee = resolved.cpu_guarantee
        self.mem_guarantee = resolved.mem_guarantee
        labels = container.labels(self.user.name, resolved.slug, self.name or "")
        self._hardening = (
            container.host_config(resolved, hardening),
            container.create_kwargs(hardening, labels),
            hardening,
        )
        self.volumes = container.volumes(
            resolved,
            home_volume_template=self.home_volume_template,
            home_mount=self.home_mount,
            shared_mounts=self.shared_mounts,
        )
        ours = dict(resolved.environment)
        ours["JUPYTERHUB_DS_PROFILE"] = resolved.slug
        gitlab_url = self.container_gitlab_url or getattr(self.authenticator, "gitlab_url", "")
        if gitlab_url:
            # the git credential helper answers for this host only
            ours["JUPYTERHUB_DS_GITLAB_URL"] = gitlab_url
        workspace = workspace_for(self.workspace_projects, self.user_group_names())
        if workspace:
            ours["JUPYTERHUB_DS_WORKSPACE"] = json.dumps(workspace, sort_keys=True)
            ours["JUPYTERHUB_DS_WORKSPACE_DIR"] = self.workspace_directory
        if self.review_policy:
            ours["JUPYTERHUB_DS_REVIEW_POLICY"] = json.dumps(self.review_policy, sort_keys=True)
        # what we set last time goes (another profile may have been chosen); the admin's stays
        env = {k: v for k, v in dict(self.environment).items() if k not in getattr(self, "_our_env", ())}
        env.update(ours)
        self._our_env = set(ours)
        self.environment = env
        args = [a for a in self.args if a not in getattr(self, "_our_args", ())]
        our_args = []
        if resolved.idle_timeout:
            # jupyter-server stops itself after this long without activity.
            our_args.append(f"--ServerApp.shutdown_no_activity_timeout={int(resolved.idle_timeout)}")
        self._our_args = our_args
        self.args = args + our_args
        self.log.info("Profile %s (%s) applied for %s", resolved.slug, resolved.image, self._log_name)
        audit_hub.spawn_starting(self, resolved)  # the spawn's profile, image and limits, for its metrics and audit
        return resolved

    async def hardened_settings(self):
        """(extra_host_config, extra_create_kwargs) for this container: the admin's, evaluated,
        with ours merged on top (HardeningConflict when theirs would weaken the hardening)."""
        ours_host, ours_create, hardening = self._hardening
        admin_host = self._eval_if_callable(self.extra_host_config)
        if inspect.isawaitable(admin_host):
            admin_host = await admin_host
        admin_create = self._eval_if_callable(self.extra_create_kwargs)
        if inspect.isawaitable(admin_create):
            admin_create = await admin_create
        if (admin_create or {}).get("labels") and ours_create.get("labels"):
            # the admin's own container labels stay beside ours (ours win for our keys)
            ours_create = {**ours_create, "labels": {**admin_create["labels"], **ours_create["labels"]}}
        return (
            container.merge_host_config(admin_host, ours_host, hardening),
            container.merge_create_kwargs(admin_create, ours_create),
        )

    # ---- progress, and the wait for the server ------------------------------------------

    ready_check_interval = Float(
        0.05,
        help="""Seconds between two checks, while a server starts, whether its port accepts
        connections. ``start()`` returns as soon as it does, and JupyterHub's own HTTP check
        then answers at once; without this wait (0) JupyterHub polls with a back-off that waits
        up to 5 s between two tries. A failed check is one TCP connection attempt.""",
    ).tag(config=True)

    progress_interval = Float(
        2.0,
        help="""Most seconds the spawn page goes without a progress event while the server is
        made and starts: a step that takes longer (creating or starting the container on a busy
        engine, the server's own start) is repeated with the time it has taken so far.""",
    ).tag(config=True)

    _waiting_for_port = 0  # spawns of this hub waiting for their server's port

    def _progress_reset(self):
        self._progress_events = []
        self._progress_t0 = self._progress_last = time.monotonic()
        self._progress_step = (0, 0, "")

    def _emit(self, progress, message, _step=None):
        if not hasattr(self, "_progress_events"):
            self._progress_reset()
        now = time.monotonic()
        self._progress_events.append({"progress": progress, "message": f"{message} ({now - self._progress_t0:.1f} s)"})
        self._progress_last, self._progress_step = now, (_step or progress, progress, message)

    async def _keep_progress(self):
        """While a step takes longer than progress_interval, say so again, a little further on
        (never as far as the next step, which starts 20 further)."""
        while True:
            await asyncio.sleep(max(0.1, self._progress_last + self.progress_interval - time.monotonic()))
            step, progress, message = self._progress_step
            if message and time.monotonic() - self._progress_last >= self.progress_interval:
                self._emit(min(95, step + 19, progress + 1), message, _step=step)

    @contextlib.asynccontextmanager
    async def progress_kept(self):
        """Events at least every progress_interval for the spawn page, inside this block."""
        task = asyncio.ensure_future(self._keep_progress())
        try:
            yield
        finally:
            task.cancel()

    async def progress(self):
        sent, events = 0, None
        # The hub stops iterating when the spawn finishes; this bound is only a safety net.
        deadline = time.monotonic() + max(self.start_timeout, 30) + 30
        while time.monotonic() < deadline:
            current = getattr(self, "_progress_events", [])
            if current is not events:  # a new spawn (the page may be open before it begins)
                sent, events = 0, current
            while sent < len(events):
                yield events[sent]
                sent += 1
            await asyncio.sleep(0.2)

    async def wait_for_port(self, ip, port):
        """Return once ``ip:port`` accepts connections: the server listens (it binds its port when
        its extensions are loaded, just before it serves); ``http_timeout`` fails the spawn, as
        JupyterHub's own wait would."""
        if self.ready_check_interval <= 0:
            return
        deadline = time.monotonic() + self.http_timeout
        ProfileSpawnerMixin._waiting_for_port += 1
        try:
            while not await _accepts(ip, port, timeout=min(1.0, self.http_timeout)):
                if time.monotonic() >= deadline:
                    self._port_timeout(ip, port)
                # with many servers starting at once each is checked less often: the hub makes
                # at most PORT_CHECKS_PER_SECOND checks in all
                waiting = ProfileSpawnerMixin._waiting_for_port
                await asyncio.sleep(max(self.ready_check_interval, waiting / PORT_CHECKS_PER_SECOND))
        finally:
            ProfileSpawnerMixin._waiting_for_port -= 1

    def _port_timeout(self, ip, port):
        self.log.error(
            "Server of %s did not open %s:%s within http_timeout (%s s)", self._log_name, ip, port, self.http_timeout
        )
        raise web.HTTPError(
            500,
            f"the server did not answer within {self.http_timeout:g} s; try again, or ask an "
            "administrator to raise spawner.http_timeout in the admin YAML",
        )

    # ---- shared steps around dockerspawner's ---------------------------------------------

    docker_threads = Int(
        8,
        help="""Threads in which the hub makes its calls to the Docker engine, shared by every
        server. dockerspawner makes them in one: with a team starting at once, each container's
        create, start and inspect waited for everyone else's, while the engine itself takes
        them in parallel. Up to 10 use docker-py's connection pool; the hub reads this once.""",
    ).tag(config=True)

    @property
    def executor(self):
        cls = type(self)
        if cls._executor is None:
            cls._executor = ThreadPoolExecutor(max(1, self.docker_threads), thread_name_prefix="jupyterhub-ds-docker")
        return cls._executor

    @default("server_token_scopes")
    def _default_server_token_scopes(self):
        # The server may get its owner's short-lived GitLab access token from the hub (the
        # authenticator's token scope; never admin:auth_state, which holds the refresh token).
        # JupyterHub grants only the subset the user holds: the hub config gives the "user"
        # role that scope for themselves.
        from jupyterhub.scopes import scope_definitions

        scopes = ["users:activity!user", "access:servers!server"]
        token_scope = getattr(self.authenticator, "token_scope", None)
        if token_scope in scope_definitions:
            scopes.append(f"{token_scope}!user")
        if EVENTS_SCOPE in scope_definitions:  # report its user's review events to the audit trail
            scopes.append(f"{EVENTS_SCOPE}!user")
        return scopes

    async def start(self):
        self._progress_reset()
        self.load_user_options()
        async with self.progress_kept():
            ip, port = await super().start()
            await self.wait_for_port(ip, port)
        return ip, port

    async def stop(self, now=False):
        self.resolved_profile = None
        return await super().stop(now=now)


async def _accepts(host, port, timeout):
    """Does ``host:port`` accept a TCP connection (within ``timeout``)?"""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True
