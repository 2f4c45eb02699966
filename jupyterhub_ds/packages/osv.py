"""Known vulnerabilities from OSV advisories the admin keeps on disk, read offline.

Why not pip-audit: its vulnerability services (``pypi``, ``osv``, ``esms``) are web APIs it
queries over the network; it has no source that reads a local copy of the advisories, and an
air-gapped hub has none of those APIs. osv.dev publishes every advisory of an ecosystem as one
JSON file each (``https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip``); the admin
downloads that where there is a network, brings it over, and names the folder it unpacked to
(or the .zip itself) in ``packages.vulnerability_database``.

An advisory affects a version of a package (``affected[].package``, ecosystem PyPI, name
compared PEP 503-normalised) when the version is listed in ``affected[].versions`` or falls in
one of ``affected[].ranges`` of type ``ECOSYSTEM``: the range's events, sorted by version
(``introduced: "0"`` first), open a span at ``introduced`` and close it at ``fixed`` (not
included) or after ``last_affected`` (OSV's evaluation rules). Versions are compared with
``packaging.version``; ``SEMVER`` and ``GIT`` ranges are not PyPI's and are skipped.

Reading is bounded (files, bytes per file) and cached per folder and modification time.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass
from functools import lru_cache

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ECOSYSTEM = "pypi"
MAX_FILES = 1_000_000
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple
    summary: str
    fixed: tuple  # versions that fix it, from the ranges that hold the version


class DatabaseError(ValueError):
    """The database cannot be read; the message names the path and what to do."""


def _version(text):
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def in_range(version, events):
    """Whether ``version`` (a Version) is inside an ECOSYSTEM range's ``events`` (OSV's rules)."""
    points = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                at = Version("0") if kind == "introduced" and event[kind] == "0" else _version(event[kind])
                if at is not None:
                    points.append((at, 0 if kind == "introduced" else 1, kind))
    affected = False
    for at, _, kind in sorted(points):
        if kind == "introduced" and version >= at:
            affected = True
        elif kind == "fixed" and version >= at:
            affected = False
        elif kind == "last_affected" and version > at:
            affected = False
    return affected


def affects(entry, version_text):
    """-> (affected?, fixed versions of the ranges that hold it) for one ``affected[]`` entry."""
    if version_text in (entry.get("versions") or ()):
        return True, _fixed_of(entry.get("ranges") or ())
    version = _version(version_text)
    if version is None:
        return False, ()
    for rng in entry.get("ranges") or ():
        if rng.get("type") == "ECOSYSTEM" and in_range(version, rng.get("events") or ()):
            return True, _fixed_of([rng])
    return False, ()


def _fixed_of(ranges):
    return tuple(
        sorted(
            {e["fixed"] for r in ranges for e in r.get("events") or () if "fixed" in e},
            key=lambda v: _version(v) or Version("0"),
        )
    )


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _well_formed(adv):
    """The parts of an advisory the check reads, in the shapes OSV's schema gives them (None: no id,
    or withdrawn). An affected entry or range of another shape is left out, not the whole advisory;
    aliases and a summary of another shape are dropped (the advisory still counts)."""
    if not isinstance(adv, dict) or not isinstance(adv.get("id"), str) or adv.get("withdrawn"):
        return None
    if not isinstance(adv.get("affected") or [], list):
        return None
    entries = []
    for entry in adv.get("affected") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("package") or {}, dict):
            continue
        if not _strings(entry.get("versions") or []) or not isinstance(entry.get("ranges") or [], list):
            continue
        ranges = [
            r
            for r in entry.get("ranges") or ()
            if isinstance(r, dict)
            and isinstance(r.get("events") or [], list)
            and all(isinstance(e, dict) and all(isinstance(v, str) for v in e.values()) for e in r.get("events") or ())
        ]
        entries.append({**entry, "ranges": ranges})
    aliases = adv.get("aliases") if isinstance(adv.get("aliases"), list) else []
    summary = adv.get("summary") if isinstance(adv.get("summary"), str) else ""
    return {**adv, "aliases": [a for a in aliases if isinstance(a, str)], "summary": summary, "affected": entries}


def index(advisories):
    """``{canonical name: [(advisory dict, affected entry), ...]}`` of the PyPI packages (pure)."""
    found = {}
    for adv in advisories:
        adv = _well_formed(adv)
        if adv is None:
            continue
        for entry in adv["affected"]:
            package = entry.get("package") or {}
            name = package.get("name")
            if str(package.get("ecosystem", "")).lower() == ECOSYSTEM and name and isinstance(name, str):
                found.setdefault(canonicalize_name(name), []).append((adv, entry))
    return found


def advisories_for(database, name, version):
    """The advisories of ``database`` (an :func:`index`) that affect ``name`` at ``version``."""
    out = {}
    for adv, entry in database.get(canonicalize_name(name), ()):
        hit, fixed = affects(entry, version)
        if hit:
            known = out.get(adv["id"])
            fixed = tuple(
                sorted(set(fixed) | set(known.fixed if known else ()), key=lambda v: _version(v) or Version("0"))
            )
            out[adv["id"]] = Advisory(
                adv["id"], tuple(adv.get("aliases") or ()), (adv.get("summary") or "").strip(), fixed
            )
    return sorted(out.values(), key=lambda a: a.id)


def _read_folder(path):
    count = 0
    for folder, _, files in os.walk(path):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            count += 1
            if count > MAX_FILES:
                raise DatabaseError(
                    f"{path} has more than {MAX_FILES} advisory files; give the folder of one ecosystem's export (PyPI)"
                )
            full = os.path.join(folder, name)
            try:
                info = os.stat(full)
            except OSError:
                continue  # a dangling link
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                continue  # a pipe, a device (/dev/zero), or larger than any advisory: not one of ours
            with open(full, "rb") as f:
                yield f.read(MAX_FILE_BYTES + 1)


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        members = [m for m in z.infolist() if m.filename.endswith(".json") and m.file_size <= MAX_FILE_BYTES]
        if len(members) > MAX_FILES:
            raise DatabaseError(f"{path} has more than {MAX_FILES} advisory files; give one ecosystem's all.zip (PyPI)")
        for member in members:
            try:
                yield z.read(member)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:  # a size or CRC that lies, ...
                raise DatabaseError(
                    f"{path}: {member.filename} cannot be read ({e}); download osv.dev's PyPI all.zip again"
                ) from None


@lru_cache(maxsize=4)
def _load(path, mtime):
    reader = _read_zip if zipfile.is_zipfile(path) else _read_folder
    advisories = []
    for raw in reader(path):
        try:
            advisories.append(json.loads(raw))
        except (ValueError, RecursionError):
            continue  # not an advisory (not JSON, or nested deeper than any advisory)
    return index(advisories)


def load(path):
    """The index of the OSV advisories at ``path`` (a folder of JSON files, or a .zip of them)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as e:
        raise DatabaseError(
            f"cannot read the vulnerability database {path} ({e.strerror}); unpack osv.dev's PyPI "
            "all.zip there, or fix packages.vulnerability_database"
        ) from None
    if not (os.path.isdir(path) or zipfile.is_zipfile(path)):
        raise DatabaseError(f"the vulnerability database {path} is neither a folder nor a .zip of OSV advisories")
    return _load(path, mtime)
