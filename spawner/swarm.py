"""ProfileSwarmSpawner (``ds-swarm``): the profile spawner on dockerspawner's SwarmSpawner.

Everything about profiles, the form, hardening and progress is ``mixin.ProfileSpawnerMixin``
(shared with ``ds-docker``); this class says how one Swarm *service* is made from it:

* the profile becomes the task's resources (limits and reservations), its ``placement`` the
  placement constraints, the hardening the container spec (``service.py``, pure; what Swarm
  cannot carry is stated there, and refused by check-config before the hub starts);
* the user network is an overlay network (created attachable, optionally encrypted);
* the hub reaches a server at its task's address on that network (``use_internal_ip``), so
  the hub must be attached to it too (a hub container, or the hub process in the network
  namespace of a container attached to it; docs/scale-out.md);
* a server runs on one node with restart condition ``none``: when its task stops (the node is
  drained, the server exits), the hub's poll says the server stopped, and the user sees it;
* a user's home is a volume on a node, so the node of the first start is remembered (kept in
  the hub database across stops and hub restarts) and later starts are placed there.
"""

import asyncio
import inspect
import time

from docker.errors import APIError
from docker.types import ContainerSpec, EndpointSpec, Mount, Placement, Resources, RestartPolicy, TaskTemplate
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Bool, Dict, Int, Unicode, default

from . import service
from .container import HardeningConflict
from .mixin import ProfileSpawnerMixin
from .service import ServiceSpecError

# Task states of the Swarm API (swarmkit's TaskState): still on its way, or over for good.
PENDING_STATES = ("new", "allocated", "pending")
STARTING_STATES = ("assigned", "accepted", "preparing", "ready", "starting")
ENDED_STATES = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")
NETWORK_LABEL = {"org.jupyterhub-ds.network": "user-servers"}
# Engine 20.10's constraint enforcer rejects a task that reserves generic resources (GPUs)
# whenever its node is updated (seen on this project's test swarm): at start, the service is
# created again, this many times.
ENFORCER_REJECTION = "assigned node no longer meets constraints"
ENFORCER_RETRIES = 2


class ProfileSwarmSpawner(ProfileSpawnerMixin, SwarmSpawner):
    """SwarmSpawner with GitLab-group profiles, hardening, placement and home pinning."""

    pending_timeout = Int(
        60,
        help="""Seconds a server's task may wait for a node that fits (placement constraints,
        reserved CPUs/memory/GPUs, the node holding the home volume) before the start fails
        with the scheduler's reason, instead of waiting for the whole start_timeout.""",
    ).tag(config=True)

    pin_home_to_node = Bool(
        True,
        help="""Remember the node a user's server first ran on and place later servers there:
        the home is a named volume on that node's engine. Turn it off only when the home
        volume is on storage every node reaches (a volume driver such as NFS, see
        docs/scale-out.md).""",
    ).tag(config=True)

    home_nodes = Dict(
        Unicode(),
        help="""``{username: node id or hostname}``: where an admin moved a user's home volume.
        Takes precedence over the node remembered from the user's first start; remove the entry
        once the user's server has run there (the spawner then remembers the new node).""",
    ).tag(config=True)

    encrypt_network = Bool(
        False,
        help="""Create the overlay network with IPsec encryption between nodes (network.encrypted
        in the admin YAML); an existing network without it is refused.""",
    ).tag(config=True)

    @default("cmd")
    def _default_cmd(self):
        # JupyterHub's own default; dockerspawner's (None) would read the image's CMD from the
        # hub's engine, which on Swarm need not have the image at all.
        return ["jupyterhub-singleuser"]

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        # The hub (attached to the overlay network) talks to the task's own address: no port
        # published on every node.
        return True

    # ---- state: the running task, and the node of the home volume -------------------------

    task_id = ""
    node_id = ""
    home_node = ""

    def load_state(self, state):
        super().load_state(state)
        self.task_id = state.get("task_id", "")
        self.node_id = state.get("node_id", "")
        self.home_node = state.get("home_node", "")

    def get_state(self):
        state = super().get_state()
        if self.object_id and self.task_id:
            state["task_id"], state["node_id"] = self.task_id, self.node_id
        if self.home_node:
            state["home_node"] = self.home_node
        return state

    def clear_state(self):
        # JupyterHub clears the state when a server stops or a new one starts; the node of the
        # home volume is kept on purpose (Spawner.clear_state keeps what must outlive a server).
        super().clear_state()
        self.task_id = self.node_id = ""

    def _home_constraint_node(self):
        """The node id or hostname later servers of this user are placed on, or ''."""
        if not (self.pin_home_to_node and self.home_volume_template):
            return ""
        return self.home_nodes.get(self.user.name) or self.home_node

    # ---- the service -----------------------------------------------------------------------

    async def hardened_service_settings(self, home_node=""):
        """(container spec kwargs, resources, placement kwargs, mounts): the admin's
        extra_* settings with ours merged on top (HardeningConflict when theirs would weaken
        the hardening, ServiceSpecError for what Swarm cannot carry)."""
        _, _, hardening = self._hardening
        admin_host = self._eval_if_callable(self.extra_host_config)
        if inspect.isawaitable(admin_host):
            admin_host = await admin_host
        if admin_host:
            raise HardeningConflict(
                f"extra_host_config {sorted(admin_host)} is set, but a Swarm service has no host "
                "config, so it would be lost; use extra_container_spec or extra_resources_spec"
            )
        service.check_task_and_create_kwargs(self.extra_task_spec, self.extra_create_kwargs)
        resolved = self.resolved_profile
        container = service.merge_container_spec(
            self.extra_container_spec, service.container_spec(await self.get_command(), hardening), hardening
        )
        resources = service.merge_resources(self.extra_resources_spec, service.resources(resolved, hardening))
        constraints = service.constraints(resolved, home_node)
        placement = service.merge_placement(self.extra_placement_spec, constraints)
        return container, resources, placement, service.mounts(self.volume_binds, hardening)

    async def _ensure_network(self):
        """The overlay network the servers (and the hub) are attached to: created attachable
        (and encrypted when asked) if missing; an existing one must be a swarm overlay."""
        name = self.network_name
        if not name or name in ("host", "none", "bridge", "ingress", "docker_gwbridge"):
            raise web.HTTPError(
                500,
                f"network.name {name!r} is not a network of its own: name an overlay network "
                "for the user servers in the admin YAML",
            )
        existing = await self.docker("networks", names=[name])
        found = next((n for n in existing or [] if n.get("Name") == name), None)
        if found is not None:
            if found.get("Driver") != "overlay" or found.get("Scope") != "swarm":
                raise web.HTTPError(
                    500,
                    f"the Docker network {name!r} is a {found.get('Scope')} {found.get('Driver')} "
                    "network; Swarm services need an overlay network: name another one in the "
                    "admin YAML (the hub creates it) or recreate it with --driver overlay --attachable",
                )
            if self.encrypt_network and "encrypted" not in (found.get("Options") or {}):
                raise web.HTTPError(
                    500,
                    f"the overlay network {name!r} is not encrypted but network.encrypted is true: "
                    "recreate it with --opt encrypted, or name a new network in the admin YAML",
                )
            return
        self.log.info("Creating overlay network %s (attachable%s)", name, ", encrypted" if self.encrypt_network else "")
        await self.docker(
            "create_network",
            name,
            driver="overlay",
            attachable=True,
            scope="swarm",
            options={"encrypted": ""} if self.encrypt_network else None,
            labels=dict(NETWORK_LABEL),
        )

    async def _check_home_node(self):
        """The id of the node holding the user's home volume ('' when not pinned); refuses at
        once (instead of leaving a task pending) when that node cannot run the server."""
        home = self._home_constraint_node()
        if not home:
            return ""
        volume = self.home_volume_template.replace("{username}", self.escaped_name)
        try:
            node = await self.docker("inspect_node", home)
        except APIError as e:
            if e.status_code != 404:
                raise
            self.log.error(
                "Home volume %s of %s is on node %s, which is not in the swarm", volume, self._log_name, home
            )
            raise web.HTTPError(
                503,
                f"Your home volume {volume} is on node {home}, which is no longer in the swarm. "
                "An admin must restore the volume onto a node and name that node for you in "
                "ProfileSwarmSpawner.home_nodes.",
            ) from None
        hostname = node.get("Description", {}).get("Hostname", home)
        availability = node.get("Spec", {}).get("Availability")
        state = node.get("Status", {}).get("State")
        if availability != "active" or state != "ready":
            self.log.error(
                "Home volume %s of %s is on node %s (%s), which is %s and %s",
                volume,
                self._log_name,
                hostname,
                node["ID"],
                availability,
                state,
            )
            raise web.HTTPError(
                503,
                f"Your home volume {volume} is on node {hostname} ({node['ID'][:12]}), which is "
                f"{availability} and {state}: your server can start again when an admin makes that "
                f"node active (docker node update --availability active {node['ID'][:12]}), or "
                "moves the volume and names the new node in ProfileSwarmSpawner.home_nodes.",
            )
        return node["ID"]

    async def pull_image(self, image):
        # Each node's engine pulls the image when a task of the service starts there (the
        # manager pins the tag's digest when the service is created); the hub pulls nothing.
        self._emit(10, f"Image {image} (each node pulls it when needed)")

    async def create_object(self):
        await self._ensure_network()
        home_node = await self._check_home_node()
        try:
            container, resources, placement, mounts = await self.hardened_service_settings(home_node)
        except (HardeningConflict, ServiceSpecError) as e:
            self.log.error("Refusing to start %s: %s", self._log_name, e)
            raise web.HTTPError(500, f"the server was not started: {e}") from None
        self._emit(30, f"Creating service {self.service_name}")
        spec = ContainerSpec(image=self.image, env=self.get_env(), mounts=[Mount(**m) for m in mounts], **container)
        task_resources = Resources()
        # docker-py's Resources has no argument for Limits.Pids (engine API 1.41): the API dict as is
        task_resources.update(resources)
        task = dict(
            container_spec=spec,
            resources=task_resources,
            # the hub owns the server's life: a task that stops stays stopped, and poll says so
            restart_policy=RestartPolicy(condition="none"),
            placement=Placement(**placement),
            networks=[self.network_name],
        )
        task.update(self.extra_task_spec)
        endpoint = {} if self.use_internal_ip else {"ports": {None: (self.port, "tcp")}}
        endpoint.update(self.extra_endpoint_spec)
        labels = {"org.jupyterhub-ds.user": self.user.name, "org.jupyterhub-ds.profile": self.resolved_profile.slug}
        create = dict(self.extra_create_kwargs)
        labels.update(create.pop("labels", None) or {})
        return await self.docker(
            "create_service",
            TaskTemplate(**task),
            name=self.service_name,
            endpoint_spec=EndpointSpec(**endpoint),
            labels=labels,
            **create,
        )

    async def remove_object(self):
        self.log.info("Removing service %s (%s)", self.service_name, (self.object_id or "")[:12])
        try:
            await self.docker("remove_service", self.object_id or self.service_name)
        except APIError as e:
            if e.status_code != 404:
                raise

    async def _node_name(self, node_id):
        try:
            node = await self.docker("inspect_node", node_id)
        except APIError:
            return node_id[:12]
        return node.get("Description", {}).get("Hostname") or node_id[:12]

    async def _give_up(self, status, message):
        """Remove the service whose task will not run, and fail the start with ``message``:
        JupyterHub stops a failed server only when poll says it runs, which a rejected task's
        does not."""
        self.log.error("Start of %s failed: %s", self._log_name, message)
        await self.remove_object()
        raise web.HTTPError(status, message)

    async def _recreate_service(self):
        """The same service anew (a new task): removed, then created again once its name is free.
        (Swarm's --force, a ForceUpdate of the spec, makes no new task for a service whose task
        was rejected under restart condition none: seen here.)"""
        await self.remove_object()
        for _ in range(50):  # removal is asynchronous; 10 s at most
            if await self.get_object() is None:
                break
            await asyncio.sleep(0.2)
        service = await self.create_object()
        self.object_id = service[self.object_id_key]

    async def start_object(self):
        """Wait (bounded by start_timeout, and by pending_timeout while no node fits) until the
        service's task runs; fail at once with Swarm's reason when it cannot."""
        self._emit(40, "Waiting for Swarm to place the server on a node")
        pending_since, last, delay, given_up = None, None, 0.5, set()
        created = time.monotonic()
        while True:
            task = await self.get_task()
            if not task:  # the orchestrator makes the task a moment after the service
                if time.monotonic() - created > self.pending_timeout:
                    await self._give_up(
                        500, f"Swarm made no task for service {self.service_name} in {self.pending_timeout} s"
                    )
                await asyncio.sleep(delay)
                continue
            if task["ID"] in given_up:  # its replacement is not there yet
                if time.monotonic() - created > self.pending_timeout:
                    await self._give_up(
                        500, f"Swarm made no new task for service {self.service_name} in {self.pending_timeout} s"
                    )
                await asyncio.sleep(delay)
                continue
            status = task["Status"]
            state = status["State"]
            reason = status.get("Err") or status.get("Message") or ""
            if state != last:
                where = f" on node {await self._node_name(task['NodeID'])}" if task.get("NodeID") else ""
                self._emit(50 if state in STARTING_STATES else 40, f"Task {state}{where}: {reason}".rstrip(": "))
                last = state
            if state == "running":
                break
            if state in ENDED_STATES:
                if reason == ENFORCER_REJECTION and len(given_up) < ENFORCER_RETRIES:
                    given_up.add(task["ID"])
                    self.log.warning(
                        "Task %s of %s was rejected (%s); creating the service again",
                        task["ID"][:12],
                        self.service_name,
                        reason,
                    )
                    await self._recreate_service()
                    last, created = None, time.monotonic()
                    continue
                await self._give_up(500, f"Swarm could not start the server: task {state}: {reason}")
            if state in PENDING_STATES:
                pending_since = pending_since or time.monotonic()
                if time.monotonic() - pending_since > self.pending_timeout:
                    home = self._home_constraint_node()
                    pinned = (
                        (
                            f"; your home volume is on node {await self._node_name(home)}, so the server can only "
                            "run there"
                        )
                        if home
                        else ""
                    )
                    await self._give_up(
                        503,
                        f"No node of the swarm can take this server after {self.pending_timeout} s "
                        f"({reason or 'pending'}): check the profile's placement and reservations "
                        f"against the nodes (docker node ls){pinned}",
                    )
            else:
                pending_since = None
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 3)
        self.task_id, self.node_id = task["ID"], task["NodeID"]
        if self.pin_home_to_node and self.home_volume_template:
            self.home_node = self.node_id
        hostname = await self._node_name(self.node_id)
        self.log.info(
            "Server of %s runs on node %s (%s), task %s", self._log_name, hostname, self.node_id[:12], self.task_id[:12]
        )
        self._emit(70, f"Running on node {hostname}; waiting for JupyterLab to answer")

    async def get_ip_and_port(self):
        if self.use_internal_hostname or not self.use_internal_ip:
            return await super().get_ip_and_port()
        task = await self.get_task()
        for attachment in (task or {}).get("NetworksAttachments") or []:
            if attachment["Network"]["Spec"]["Name"] == self.network_name and attachment.get("Addresses"):
                return attachment["Addresses"][0].split("/")[0], self.port
        raise web.HTTPError(500, f"the task of {self.service_name} has no address on network {self.network_name!r}")

    async def poll(self):
        """None while the task the hub started runs; else why it does not (drained node,
        exit, a task Swarm replaced it with)."""
        if not self.task_id:
            return await super().poll()
        if await self.get_object() is None:
            return f"service {self.service_name} is gone"
        try:
            tasks = await self.docker("tasks", filters={"service": self.service_name})
        except APIError as e:
            if e.status_code == 404:
                return f"service {self.service_name} is gone"
            raise
        ours = next((t for t in tasks if t["ID"] == self.task_id), None)
        if ours is None:
            return f"task {self.task_id[:12]} of {self.service_name} is gone"
        status = ours["Status"]
        if status["State"] == "running" and ours.get("DesiredState") == "running":
            return None
        node = ours.get("NodeID", "")
        why = ""
        try:
            availability = (await self.docker("inspect_node", node))["Spec"]["Availability"]
            if availability != "active":
                why = f" (node {availability})"
        except (APIError, KeyError):
            why = " (node gone)"
        reason = status.get("Err") or status.get("Message") or ""
        message = (
            f"task {status['State']} (desired {ours.get('DesiredState')}) on node "
            f"{await self._node_name(node)}{why}: {reason}"
        )
        # JupyterHub calls stop() only for a server poll says is running, so the service of an
        # ended task is removed here (the home volume stays on its node)
        self.log.warning(
            "Server of %s is no longer running: %s; removing service %s", self._log_name, message, self.service_name
        )
        await self.remove_object()
        return message
