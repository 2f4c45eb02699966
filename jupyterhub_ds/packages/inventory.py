"""What an image holds: every Python distribution with its version and licence fields.

Read inside a throwaway container of the image, as the image's notebooks would see them
(``importlib.metadata`` of the image's ``python``): no network, uid 1000, every capability
dropped, ``no-new-privileges``, a read-only root file system, bounded memory and processes;
bounded in time (:data:`TIMEOUT`, then the container is removed) and in output
(:data:`MAX_OUTPUT`). Through the docker CLI, as ``images build`` (which calls it).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading

TIMEOUT = 120
MAX_OUTPUT = 8 * 1024 * 1024
MAX_DISTRIBUTIONS = 5000
MAX_FIELD = 200  # characters of a name, version or licence field (the script's own cut)
MAX_CLASSIFIERS = 20
# control characters (C0, DEL, C1) and the Unicode line and paragraph separators: never in a name or a
# version; in licence text they are replaced, so the listing cannot move the terminal or fake lines
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
LABEL = "org.jupyterhub-ds.packages-check"

# Runs in the image: only the standard library. The fields are those the promotion clean run
# lists (jupyterhub_ds/promotion/clean_run_script.py), so the check sees the same data.
SCRIPT = f"""
import importlib.metadata as metadata, json, sys
out = {{}}
for dist in metadata.distributions():
    md = dist.metadata
    if not md.get("Name"):
        continue
    out[md["Name"].lower()] = {{"name": md["Name"], "version": md["Version"] or "",
                              "license": (md.get("License") or "")[:200],
                              "license_expression": (md.get("License-Expression") or "")[:200],
                              "classifiers": [c for c in (md.get_all("Classifier") or []) if c.startswith("License")][:20]}}
    if len(out) >= {MAX_DISTRIBUTIONS}:
        break
json.dump(sorted(out.values(), key=lambda d: d["name"].lower()), sys.stdout)
"""


class InventoryError(Exception):
    """The image could not be listed; the message says why and what to do."""


def docker_command(image, name):
    return [
        "docker",
        "run",
        "--rm",
        "--name",
        name,
        "--label",
        f"{LABEL}=1",
        "--pull",
        "never",  # a missing image is an error, never a pull of whatever a registry has under that name
        "--network",
        "none",
        "--user",
        "1000",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--memory",
        "512m",
        "--pids-limit",
        "64",
        "--entrypoint",
        "python",
        image,
        "-c",
        SCRIPT,
    ]


def list_image(image, timeout=TIMEOUT):
    """``[{"name", "version", "license", "license_expression", "classifiers"}, ...]`` of ``image``."""
    name = f"jupyterhub-ds-packages-{secrets.token_hex(4)}"
    try:
        proc = subprocess.Popen(docker_command(image, name), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise InventoryError("the docker CLI is not installed: apt-get install docker.io") from None
    expired = threading.Event()

    def stop():
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, stop)
    timer.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read(64 * 1024)), daemon=True)
    reader.start()
    try:
        out = proc.stdout.read(MAX_OUTPUT + 1)
        if len(out) > MAX_OUTPUT:
            proc.kill()
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
        reader.join(5)
        if expired.is_set() or len(out) > MAX_OUTPUT:
            # docker run --rm removes the container when it ends; a killed client leaves it running
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    message = (err[0] if err else b"").decode(errors="replace").strip()
    if expired.is_set():
        raise InventoryError(f"listing the packages of {image} took more than {timeout} s; the container was removed")
    if len(out) > MAX_OUTPUT:
        raise InventoryError(f"{image} printed more than {MAX_OUTPUT // (1024 * 1024)} MiB when listing its packages")
    if code != 0:
        if "No such image" in message or "Unable to find image" in message or "pull access denied" in message:
            raise InventoryError(f"image {image} is not on this Docker host; build or pull it first")
        if "executable file not found" in message:
            raise InventoryError(f"image {image} has no python on its PATH; only images with Python can be checked")
        raise InventoryError(f"listing the packages of {image} failed (exit {code}): {message[-500:]}")
    try:
        listed = json.loads(out)
    except ValueError:
        raise InventoryError(f"{image} did not list its packages as JSON: {out[:200]!r}") from None
    return checked_listing(image, listed)


def checked_listing(image, listed):
    """The listing the image printed, checked on the host: the script runs with the image's own
    ``python`` (and whatever its site-packages run at start-up), so what comes back is the image's
    word: a list of at most :data:`MAX_DISTRIBUTIONS` entries with string fields of bounded length,
    names and versions without control characters. Anything else refuses the image."""

    def refuse(why):
        raise InventoryError(f"{image} listed its packages in an unexpected shape ({why})")

    if not isinstance(listed, list):
        refuse("not a list")
    if len(listed) > MAX_DISTRIBUTIONS:
        refuse(f"{len(listed)} distributions, more than {MAX_DISTRIBUTIONS}")
    out = []
    for d in listed:
        if not isinstance(d, dict):
            refuse("an entry is not an object")
        entry = {}
        for key in ("name", "version", "license", "license_expression"):
            value = d.get(key, "")
            if not isinstance(value, str):
                refuse(f"{key} is not a string")
            if key in ("name", "version") and (len(value) > MAX_FIELD or _CONTROL.search(value)):
                refuse(f"a {key} of {len(value)} characters or with control characters")
            entry[key] = value if key in ("name", "version") else _CONTROL.sub("\ufffd", value[:MAX_FIELD])
        if not entry["name"]:
            refuse("an entry without a name")
        classifiers = d.get("classifiers") or []
        if not isinstance(classifiers, list) or not all(isinstance(c, str) for c in classifiers):
            refuse("classifiers is not a list of strings")
        entry["classifiers"] = [_CONTROL.sub("\ufffd", c[:MAX_FIELD]) for c in classifiers[:MAX_CLASSIFIERS]]
        out.append(entry)
    return out
