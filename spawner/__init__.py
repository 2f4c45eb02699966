"""Profile spawner on dockerspawner: profile model, spawn form, Docker and Swarm variants."""

from .profiles import ProfileError, allowed_profiles, resolve  # noqa: E402,F401


def __getattr__(name):
    # The spawner classes import dockerspawner (hub extra); load them only when asked, so the
    # pure profile code stays importable with the base install.
    if name in ("ProfileDockerSpawner", "ProfileSpawnerMixin"):
        from . import docker

        return getattr(docker, name)
    raise AttributeError(name)
