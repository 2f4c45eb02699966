"""The package policy and the one check of an image's installed distributions against it (pure).

An installed distribution is a dict ``{"name", "version", "license", "license_expression",
"classifiers"}`` (what :mod:`.inventory` and the promotion clean run list). The check refuses:

- a distribution not on the allow-list, or outside its allowed version range (``allowed``,
  ``allowed_lock``; ``pip``, ``setuptools``, ``wheel`` and ``jupyterhub-ds`` are the image's
  own installer and the project, always allowed);
- a licence that names a refused word (``denied_licenses``: AGPL, SSPL, ...), or, with
  ``allowed_licenses``, one that names none of the allowed words;
- a version that a known advisory affects (``vulnerability_database``), unless the advisory
  (or one of its aliases) is in ``ignored_advisories``.

Every problem is one line naming the distribution, what is wrong and the fix; the same line
wherever the check runs (``packages check``, ``images build``, a promotion's clean run).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DEFAULT_DENIED_LICENSES = ("AGPL", "Affero", "SSPL", "Commons Clause", "Proprietary", "Commercial")
# the image's own installer and the project itself: in every image, never in a lock file
ALWAYS_ALLOWED = frozenset({"pip", "setuptools", "wheel", "jupyterhub-ds"})


@dataclass(frozen=True)
class PackagePolicy:
    """``allowed``: canonical name -> PEP 440 specifier ("" any version); None: no allow-list."""

    allowed: dict | None = None
    allowed_licenses: tuple | None = None
    denied_licenses: tuple = DEFAULT_DENIED_LICENSES
    vulnerability_database: str | None = None
    ignored_advisories: tuple = ()

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        data = dict(data or {})
        for key in ("allowed_licenses", "denied_licenses", "ignored_advisories"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def allowed_names(self):
        """The distribution names notebooks may import under this policy (None: no list)."""
        return None if self.allowed is None else sorted(self.allowed)


def parse_allowed(entries, lock_pins=None):
    """``allowed`` entries (``numpy>=1.26,<3``, ``pandas``) and a lock's ``{name: version}`` ->
    ``{canonical name: specifier}``; an entry wins over the lock's pin of the same package.
    Raises ValueError naming a bad entry (the config check reports it with its line first)."""
    from packaging.requirements import InvalidRequirement, Requirement

    allowed = {name: f"=={version}" for name, version in (lock_pins or {}).items()}
    for entry in entries or ():
        try:
            req = Requirement(entry)
        except InvalidRequirement as e:
            raise ValueError(f"{entry!r} is not a package with an optional version range ({e})") from None
        allowed[canonicalize_name(req.name)] = str(req.specifier)
    return allowed


def policy_from_config(config, base_dir=None):
    """The :class:`PackagePolicy` of a checked, defaults-filled admin config (``base_dir``: the
    YAML's folder, for relative paths)."""
    from ..image_inputs import lock_pins

    section = config["packages"]
    base = base_dir or "."
    allowed = None
    if section["allowed"] is not None or section["allowed_lock"] is not None:
        pins = {}
        if section["allowed_lock"] is not None:
            lock = os.path.join(base, section["allowed_lock"])
            with open(lock, encoding="utf-8") as f:
                pins = lock_pins(f.read(), where=lock)
        allowed = parse_allowed(section["allowed"], pins)
    database = section["vulnerability_database"]
    return PackagePolicy(
        allowed=allowed,
        allowed_licenses=None if section["allowed_licenses"] is None else tuple(section["allowed_licenses"]),
        denied_licenses=tuple(section["denied_licenses"]),
        vulnerability_database=None if database is None else os.path.abspath(os.path.join(base, database)),
        ignored_advisories=tuple(section["ignored_advisories"]),
    )


# ---- licences -----------------------------------------------------------------------------------


def licence_text(dist):
    parts = [dist.get("license_expression") or "", dist.get("license") or ""]
    parts += [c for c in dist.get("classifiers") or [] if c.startswith("License")]
    return " | ".join(p for p in parts if p)


def _word(word):
    # whole word, any case, but "AGPLv3" counts as AGPL (a version may follow)
    return re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?=v?[0-9]|[^A-Za-z]|$)", re.I)


def licence_problems(installed, denied):
    """Installed distributions whose licence names a refused word."""
    problems = []
    for word in denied:
        pattern = _word(word)
        for dist in installed:
            text = licence_text(dist)
            if text and pattern.search(text):
                problems.append(
                    f"{dist['name']} {dist.get('version', '')} is licensed {text[:80]!r}, which matches the refused "
                    f"licence {word!r}; remove it from the image or take {word!r} out of denied_licenses"
                )
    return problems


def unlisted_licence_problems(installed, allowed_licenses):
    """With a licence allow-list: distributions whose licence names none of its words."""
    patterns = [_word(w) for w in allowed_licenses]
    problems = []
    for dist in installed:
        text = licence_text(dist)
        if not text:
            problems.append(
                f"{dist['name']} {dist.get('version', '')} has no licence in its metadata, so it matches "
                "none of packages.allowed_licenses; remove it from the image, or check its licence by hand "
                "and allow the word its licence uses"
            )
        elif not any(p.search(text) for p in patterns):
            problems.append(
                f"{dist['name']} {dist.get('version', '')} is licensed {text[:80]!r}, which matches none of "
                f"packages.allowed_licenses ({', '.join(allowed_licenses)}); remove it from the image or "
                "add its licence there"
            )
    return problems


# ---- the allow-list -----------------------------------------------------------------------------


def allow_list_problems(installed, allowed):
    problems = []
    for dist in installed:
        name = canonicalize_name(dist["name"])
        if name in ALWAYS_ALLOWED:
            continue
        if name not in allowed:
            problems.append(
                f"{dist['name']} {dist.get('version', '')} is not on the package allow-list "
                "(packages.allowed, packages.allowed_lock); remove it from the image or allow it there"
            )
            continue
        spec = allowed[name]
        if not spec:
            continue
        try:
            inside = Version(dist.get("version", "")) in SpecifierSet(spec, prereleases=True)
        except (InvalidVersion, InvalidSpecifier):
            inside = False
        if not inside:
            problems.append(
                f"{dist['name']} {dist.get('version', '')} is outside the allowed versions {spec} "
                "(packages.allowed, packages.allowed_lock); install a version in that range or change it"
            )
    return problems


# ---- known vulnerabilities ----------------------------------------------------------------------


def vulnerability_problems(installed, found, ignored=()):
    """``found``: ``{(name, version): [osv.Advisory, ...]}`` for the installed distributions."""
    ignored = {i.upper() for i in ignored}
    problems = []
    for dist in installed:
        for adv in found.get((canonicalize_name(dist["name"]), dist.get("version", "")), ()):
            if {adv.id.upper(), *(a.upper() for a in adv.aliases)} & ignored:
                continue
            aliases = f" ({', '.join(adv.aliases)})" if adv.aliases else ""
            fixed = f"upgrade to {' or '.join(adv.fixed)}" if adv.fixed else "remove it (no fixed version is known)"
            summary = f": {adv.summary[:100]}" if adv.summary else ""
            problems.append(
                f"{dist['name']} {dist.get('version', '')} has the known vulnerability {adv.id}{aliases}"
                f"{summary}; {fixed}, or list {adv.id} in packages.ignored_advisories"
            )
    return problems


def check_installed(installed, policy, advisories=None):
    """Every problem of ``installed`` under ``policy`` (``advisories``: see vulnerability_problems)."""
    installed = sorted(installed, key=lambda d: canonicalize_name(d["name"]))
    problems = []
    if policy.allowed is not None:
        problems += allow_list_problems(installed, policy.allowed)
    problems += licence_problems(installed, policy.denied_licenses)
    if policy.allowed_licenses is not None:
        problems += unlisted_licence_problems(installed, policy.allowed_licenses)
    if advisories:
        problems += vulnerability_problems(installed, advisories, policy.ignored_advisories)
    return problems


def image_problems(installed, policy):
    """:func:`check_installed`, with the advisories of ``policy.vulnerability_database`` read
    (offline, cached) when it names one."""
    advisories = None
    if policy.vulnerability_database:
        from . import osv

        database = osv.load(policy.vulnerability_database)
        advisories = {}
        for dist in installed:
            key = (canonicalize_name(dist["name"]), dist.get("version", ""))
            found = osv.advisories_for(database, *key)
            if found:
                advisories[key] = found
    return check_installed(installed, policy, advisories)
