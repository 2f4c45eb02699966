"""ProfileDockerSpawner (``ds-docker``): the profile spawner on dockerspawner's DockerSpawner.

Everything about profiles, the form, hardening and progress is ``mixin.ProfileSpawnerMixin``;
this class says how one container is made from it: an isolated bridge network, and the
admin's ``extra_host_config``/``extra_create_kwargs`` merged with the hardening
(``container.merge_host_config``).
"""

from dockerspawner import DockerSpawner
from tornado import web
from traitlets import default

from .container import HardeningConflict
from .mixin import ProfileSpawnerMixin

__all__ = ["ProfileDockerSpawner", "ProfileSpawnerMixin"]


class ProfileDockerSpawner(ProfileSpawnerMixin, DockerSpawner):
    """DockerSpawner with GitLab-group profiles, hardening defaults and progress events."""

    async def _ensure_network(self):
        """Create the user network isolated (inter-container traffic off), or check that the
        existing one is: a network where containers can reach each other is refused unless the
        admin YAML says network.containers_can_talk: true."""
        if self.network_name == "host":
            raise web.HTTPError(
                500,
                "network.name 'host' would put user servers in the host's network; "
                "name a Docker network of their own in the admin YAML",
            )
        if self.network_name == "none" or not self.isolate_containers:
            return
        existing = await self.docker("networks", names=[self.network_name])
        found = next((n for n in existing or [] if n.get("Name") == self.network_name), None)
        if found is not None:
            options = found.get("Options") or {}
            if found.get("Driver") == "bridge" and options.get("com.docker.network.bridge.enable_icc") != "false":
                self.log.error(
                    "Refusing to start %s on network %s: inter-container traffic is on",
                    self._log_name,
                    self.network_name,
                )
                raise web.HTTPError(
                    500,
                    f"the Docker network {self.network_name!r} lets containers reach each other "
                    "(inter-container traffic is on), so one user's server could reach another's: "
                    "ask an admin to recreate it with com.docker.network.bridge.enable_icc=false, "
                    "name a new network, or set network.containers_can_talk: true in the admin YAML",
                )
            return
        self.log.info("Creating isolated Docker network %s", self.network_name)
        await self.docker(
            "create_network",
            self.network_name,
            driver="bridge",
            options={"com.docker.network.bridge.enable_icc": "false"},
            labels={"org.jupyterhub-ds.network": "user-containers"},
        )

    @default("remove")
    def _default_remove(self):
        # The home lives in a named volume, so containers are disposable: a restart gets a
        # fresh container with the profile's current limits.
        return True

    async def pull_image(self, image):
        self._emit(10, f"Checking image {image}")
        await super().pull_image(image)

    async def create_object(self):
        await self._ensure_network()
        try:
            host, create = await self.hardened_settings()
        except HardeningConflict as e:
            self.log.error("Refusing to start %s: %s", self._log_name, e)
            raise web.HTTPError(500, f"the server was not started: {e}") from None
        self._emit(30, f"Creating container {self.container_name}")
        # dockerspawner reads these two traits while it creates the container: the merged
        # settings for that moment only, the admin's own values again afterwards
        admin = (self.extra_host_config, self.extra_create_kwargs)
        self.extra_host_config, self.extra_create_kwargs = host, create
        try:
            return await super().create_object()
        finally:
            self.extra_host_config, self.extra_create_kwargs = admin

    async def start_object(self):
        self._emit(50, "Starting container")
        await super().start_object()
        self._emit(70, "Waiting for JupyterLab to answer")
