"""What the images are made from, and the names they carry: the pure part of ``images build``.

Everything here is plain data in, plain data out (no Docker, no subprocess), so the rules
that decide "cached", which requirements go into the image and which hosts packages may
come from are unit-tested on their own (tests/unit/test_image_inputs.py).
"""

import fnmatch
import hashlib
import os
import re
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

BASE_REPO = "jupyterhub-ds/base"
SINGLEUSER_REPO = "jupyterhub-ds/singleuser"
SCIPY_REPO = "jupyterhub-ds/singleuser-scipy"
BASE_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates", "tini")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SUITE = "bookworm"
DEFAULT_INDEX_URL = "https://pypi.org/simple"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
SINGLEUSER_EXTRA = "singleuser"

LABEL_HASH = "org.jupyterhub-ds.input-hash"
LABEL_VERSION = "org.jupyterhub-ds.version"
LABEL_PACKAGES = "org.jupyterhub-ds.packages"
LABEL_BASE = "org.jupyterhub-ds.base-image"
LABEL_INDEX = "org.jupyterhub-ds.index-url"


def input_hash(parts):
    """A stable hash over named inputs (``{name: str | bytes}``)."""
    h = hashlib.sha256()
    for name in sorted(parts):
        value = parts[name]
        data = value if isinstance(value, bytes) else str(value).encode()
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


# What of the project tree is not part of its wheel (nor of the single-user image's inputs):
# VCS and tool state, build output, tests, CI, and images/ (its recipe files are hashed
# on their own). Names match at any depth, as with shutil.ignore_patterns.
SOURCE_IGNORE = (
    ".git",
    ".venv",
    ".work",
    ".ci",
    ".github",
    ".pytest_cache",
    "build",
    "dist",
    "node_modules",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    "tests",
    "images",
)


def source_files(root, ignore=SOURCE_IGNORE):
    """Relative paths of the files under ``root`` that go into the wheel build, sorted."""
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not any(fnmatch.fnmatch(d, pat) for pat in ignore))
        for name in files:
            if not any(fnmatch.fnmatch(name, pat) for pat in ignore):
                found.append(os.path.relpath(os.path.join(top, name), root))
    return sorted(found)


def tree_content_hash(root, ignore=SOURCE_IGNORE):
    """Hash of the names and contents of :func:`source_files` (not times, not owners)."""
    h = hashlib.sha256()
    for rel in source_files(root, ignore):
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def requirements_from_metadata(metadata_text, extra=SINGLEUSER_EXTRA):
    """The third-party requirements of a wheel's METADATA for ``extra``, one per line.

    Requirements without a marker are kept as they are; those whose marker holds for
    ``extra`` are kept without the marker (the image has that extra by definition).
    """
    from packaging.requirements import Requirement

    lines = []
    for line in metadata_text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is None:
            lines.append(str(req))
        elif req.marker.evaluate({"extra": extra}):
            req.marker = None
            lines.append(str(req))
    return sorted(set(lines), key=str.lower)


def split_pem(bundle):
    """The certificates of a PEM bundle, one ``bytes`` each (``update-ca-certificates``
    wants one certificate per file; text between certificates is dropped)."""
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    certs, pos = [], 0
    while (start := bundle.find(begin, pos)) != -1:
        stop = bundle.find(end, start)
        if stop == -1:
            break
        certs.append(bundle[start : stop + len(end)] + b"\n")
        pos = stop + len(end)
    return certs


def packages_label(freeze_text):
    """The compact package list label: ``name==version`` joined by commas, sorted."""
    pins = [ln.strip() for ln in freeze_text.splitlines() if ln.strip() and not ln.startswith("#")]
    return ",".join(sorted(pins, key=str.lower))


# In the venv but not from the index (Python's ensurepip) or not third-party: never locked.
UNLOCKED = frozenset({"pip", "setuptools", "jupyterhub-ds"})


def lock_text(packages_text, version, image="single-user image", update="--update-lock"):
    """The requirements.lock for ``packages_text`` (``pip list --format=freeze``) of ``image``;
    ``update`` is the ``images build`` option that regenerates it."""
    pins = []
    for line in packages_text.splitlines():
        name, sep, _ = line.strip().partition("==")
        if sep and canonicalize_name(name) not in UNLOCKED:
            pins.append(line.strip())
    header = (
        f"# Exact versions of the {image}'s third-party packages (jupyterhub-ds {version}).\n"
        "# Used as pip constraints by `jupyterhub-ds images build`; regenerate with\n"
        f"# `jupyterhub-ds images build {update}` after changing dependencies or the base.\n"
    )
    return header + "".join(f"{p}\n" for p in sorted(pins, key=str.lower))


# One pin of a lock file: ``name==version``, optionally with extras, an environment marker
# and a trailing comment (what pip freeze, pip-compile and `images build` write).
_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"==\s*(?P<version>[^\s;#]+)\s*(?:;[^#]*)?(?:#.*)?"
)


def lock_pins(text, where="lock file"):
    """``{canonical name: version}`` of a lock file's text (comments and blank lines skipped).

    Every other line must pin one distribution with ``==``; anything else (a range, an
    option such as ``--index-url``, a URL) is a ValueError naming ``where`` and the line.
    """
    pins = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.fullmatch(line)
        if not match:
            raise ValueError(
                f"{where}, line {number}: {line!r} is not an exact pin `name==version`; "
                "a lock file holds only pins (regenerate it with `jupyterhub-ds images build --update-lock`)"
            )
        name = canonicalize_name(match["name"])
        if name in pins and pins[name] != match["version"]:
            raise ValueError(f"{where}, line {number}: {name} is pinned twice ({pins[name]} and {match['version']})")
        pins[name] = match["version"]
    return pins


def lock_packages(path):
    """The distribution names a lock file pins, PEP 503-normalised and sorted.

    For allow-lists that refer to an image's lock (e.g. images/scipy/requirements.lock)
    instead of repeating its package names. Errors name the file and line (see lock_pins).
    """
    with open(path, encoding="utf-8") as f:
        return sorted(lock_pins(f.read(), where=os.fspath(path)))


def lock_conflicts(locked, installed):
    """``{name: (locked version, installed version)}`` for the packages both pin differently.

    ``locked`` and ``installed`` are :func:`lock_pins` mappings: a layered image's lock
    against what its base image already has (which the layer must not change).
    """
    return {
        name: (version, installed[name])
        for name, version in sorted(locked.items())
        if name in installed and installed[name] != version
    }


def allowed_download_hosts(index_url):
    """Hosts a package may come from when ``index_url`` is the only index.

    The index's own host, and for pypi.org its files host (files.pythonhosted.org).
    """
    host = urlsplit(index_url).hostname or ""
    hosts = {host}
    if host == "pypi.org":
        hosts.add("files.pythonhosted.org")
    return hosts


def format_report(steps, total):
    """``images build: base cached (0.1 s), ..., singleuser-scipy built (95.3 s, 1.21 GB), total 98.4 s``.

    A step is ``(name, status, seconds)`` or ``(name, status, seconds, detail)``.
    """
    done = ", ".join(
        f"{name} {status} ({secs:.1f} s{', ' + rest[0] if rest and rest[0] else ''})"
        for name, status, secs, *rest in steps
    )
    return f"images build: {done}, total {total:.1f} s"
