"""Profile spawner on dockerspawner: profile model, spawn form, Docker and Swarm variants."""

from .profiles import ProfileError, allowed_profiles, resolve  # noqa: E402,F401


def __getattr__(name):
    # The spawner classes import dockerspawner (hub extra); load them only when asked, so the
    # pure profile code stays importable with the base install.
    if name == "ProfileSpawnerMixin":
        from . import mixin

        return mixin.ProfileSpawnerMixin
    if name == "ProfileDockerSpawner":
        from . import docker

        return docker.ProfileDockerSpawner
    if name == "ProfileSwarmSpawner":
        from . import swarm

        return swarm.ProfileSwarmSpawner
    raise AttributeError(name)
