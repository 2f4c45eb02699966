"""Running commands for ``images build``: prefixed streaming output, bounded time, and
the few questions put to the Docker engine (is it there, what labels has this image).

The docker CLI, not docker-py: it streams build output line by line, ``docker import``
reads a tar from a pipe, and every step is what an admin would type to redo it by hand.
"""

import json
import os
import shutil
import signal
import subprocess
import threading

ENGINE_TIMEOUT = 30


class BuildError(Exception):
    """A step failed; the message says what failed and how to fix it."""


def say(prefix, line):
    print(f"[{prefix}] {line}", flush=True)


def stream(cmd, prefix, timeout, stdin=None, env=None):
    """Run ``cmd``, print its output lines prefixed; return (exit code, last lines).

    A timer kills the command after ``timeout`` seconds even if it prints nothing.
    """
    proc = subprocess.Popen(
        cmd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    tail = []
    try:
        for line in proc.stdout:
            line = line.rstrip()
            say(prefix, line)
            tail = (tail + [line])[-15:]
        code = proc.wait()
    finally:
        timer.cancel()
    if code == -signal.SIGKILL:
        raise BuildError(f"`{' '.join(cmd[:3])} ...` took more than {timeout} s and was stopped")
    return code, tail


def engine_address():
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker(*args, timeout=ENGINE_TIMEOUT):
    """``docker ARGS``, output captured; a hung engine becomes a BuildError after ``timeout``."""
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildError(
            f"`docker {args[0]}` got no answer in {timeout} s from the engine at {engine_address()}: "
            "check that dockerd is healthy (`docker info`), then run the build again"
        ) from None


def check_engine():
    if shutil.which("docker") is None:
        raise BuildError("docker CLI not found: apt-get install docker.io")
    try:
        res = docker("version", "--format", "{{.Server.Version}}")
        detail = res.stderr.strip()
    except BuildError:
        res, detail = None, f"no answer in {ENGINE_TIMEOUT} s"
    if res is None or res.returncode != 0:
        raise BuildError(
            f"no Docker engine at {engine_address()}: start dockerd (as root: `dockerd &`, or "
            f"`systemctl start docker`) or set DOCKER_HOST ({detail})"
        )


def image_labels(ref):
    """Labels and id of a local image, or None if there is no such image."""
    res = docker("image", "inspect", "--format", "{{json .Config.Labels}}|{{.Id}}", ref)
    if res.returncode != 0:
        return None
    labels, _, image_id = res.stdout.strip().rpartition("|")
    return json.loads(labels) or {}, image_id


def image_size(ref):
    """The size in bytes of a local image (as ``docker images`` shows it), or None."""
    res = docker("image", "inspect", "--format", "{{.Size}}", ref)
    try:
        return int(res.stdout.strip()) if res.returncode == 0 else None
    except ValueError:
        return None
