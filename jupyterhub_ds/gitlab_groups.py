"""Which GitLab group memberships grant what on the hub: the rules, as pure functions.

A *group rule* is how the admin YAML names a group anywhere it grants something (login,
hub admin, a profile, a workspace project, promotion visibility): a group path such as
``data-science/admins``, or a path with a minimum role, ``{group: data-science,
min_access_level: maintainer}``. Its *key* (``data-science/admins``,
``data-science:maintainer``) is the name of the JupyterHub group a user is put in when the
rule holds for them; the spawner and the promotion service match those names exactly.

What GitLab's API answers (checked against GitLab's source and documentation):

* ``GET /groups?min_access_level=N`` lists the groups the user is a *direct* member of with
  at least role N, **and every descendant of them** (``GroupsFinder#groups_with_min_access_level``:
  ``current_user.groups.where(access_level >= N).self_and_descendants``), for admins too.
  A Guest of ``data-science`` is therefore listed in ``data-science/admins``.
* ``GET /groups/:id/members/:user_id`` answers 200 for direct members only;
  ``members/all/:user_id`` also for members inherited from an ancestor group.
* The OpenID ``/oauth/userinfo`` ``groups`` claim lists the same groups as the first call
  ("directly or through an ancestor group"); ``groups_direct`` is in the ID token only.

The rules (the security decision, see docs/architecture.md):

* **Privileges** (admin, profiles, workspace projects, promotion visibility): a plain rule
  for group G holds for people *placed in* G or in one of its subgroups (a direct
  membership), never for people who only inherit G from an ancestor group. A rule with a
  minimum role holds for anyone with at least that role in G or a subgroup, however they got
  it (directly or inherited): the admin opted in to inheritance for that entry.
* **Login** (``auth.allowed_groups``): anyone with access to G or a subgroup may log in,
  inherited access included (with a minimum role: at least that role).
"""

from __future__ import annotations

from dataclasses import dataclass

# GitLab access levels (docs.gitlab.com/api/members/#roles)
ACCESS_LEVELS = {"guest": 10, "planner": 15, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50}
LEVEL_NAMES = {v: k for k, v in ACCESS_LEVELS.items()}
GUEST = ACCESS_LEVELS["guest"]


class GroupRuleError(ValueError):
    pass


@dataclass(frozen=True)
class GroupRule:
    path: str
    min_access_level: int | None = None  # None: placed in the group or a subgroup

    @property
    def key(self) -> str:
        """The JupyterHub group name of this rule: ``path`` or ``path:maintainer``."""
        if self.min_access_level is None:
            return self.path
        return f"{self.path}:{LEVEL_NAMES[self.min_access_level]}"

    @classmethod
    def parse(cls, key: str) -> GroupRule:
        """``data-science/admins`` or ``data-science:maintainer`` -> GroupRule."""
        if not isinstance(key, str) or not key.strip("/: "):
            raise GroupRuleError(f"{key!r} is not a GitLab group path like data-science/admins")
        path, sep, level = key.partition(":")
        path = path.strip("/")
        if not sep:
            return cls(path)
        if level not in ACCESS_LEVELS:
            raise GroupRuleError(f"{key!r}: unknown role {level!r}; use one of {', '.join(ACCESS_LEVELS)}")
        return cls(path, ACCESS_LEVELS[level])


def rule_from_entry(entry) -> GroupRule:
    """An admin-YAML group entry (``"a/b"`` or ``{group: a/b, min_access_level: maintainer}``)."""
    if isinstance(entry, str):
        return GroupRule(entry.strip("/"))
    level = entry.get("min_access_level")
    if isinstance(level, str):
        level = ACCESS_LEVELS[level]
    return GroupRule(entry["group"].strip("/"), level)


def entry_key(entry) -> str:
    return rule_from_entry(entry).key


def is_under(group: str, path: str) -> bool:
    """``group`` is ``path`` or one of its subgroups (case-insensitive, as GitLab paths are)."""
    group, path = group.lower(), path.lower()
    return group == path or group.startswith(path + "/")


def parent(path: str) -> str | None:
    return path.rsplit("/", 1)[0] if "/" in path else None


def certainly_direct(listed) -> set[str]:
    """Groups of a ``/groups?min_access_level`` list whose parent is not listed: the list is
    direct memberships plus their descendants, so these must be direct memberships."""
    listed = set(listed)
    return {g for g in listed if parent(g) not in listed}


@dataclass(frozen=True)
class Memberships:
    """What GitLab told us about one user.

    ``by_level``: minimum access level -> the groups ``/groups?min_access_level`` listed.
    ``direct``: groups the user is known to be placed in (a direct membership).
    """

    by_level: dict
    direct: frozenset = frozenset()

    @property
    def accessible(self) -> frozenset:
        return frozenset(self.by_level.get(GUEST, ()))


def may_log_in(rule: GroupRule, m: Memberships) -> bool:
    """Login rule: access (direct, inherited or through a subgroup) to the group's subtree."""
    listed = m.by_level.get(rule.min_access_level or GUEST, ())
    return any(is_under(g, rule.path) for g in listed)


def grants(rule: GroupRule, m: Memberships) -> bool:
    """Privilege rule (see the module docstring)."""
    if rule.min_access_level is None:
        return any(is_under(g, rule.path) for g in m.direct)
    return any(is_under(g, rule.path) for g in m.by_level.get(rule.min_access_level, ()))


def lookups_for(rule: GroupRule, m: Memberships) -> list[str]:
    """Groups whose direct membership must be asked of GitLab to decide a plain ``rule``, in
    the order worth asking (shallowest first); empty when the rule is already decided."""
    if rule.min_access_level is not None or grants(rule, m):
        return []
    under = [g for g in m.accessible if is_under(g, rule.path) and g not in m.direct]
    return sorted(under, key=lambda g: (g.count("/"), g))


def levels_needed(rules) -> set[int]:
    """The ``min_access_level`` values to list groups for (Guest always)."""
    return {GUEST} | {r.min_access_level for r in rules if r.min_access_level is not None}


def granted_keys(rules, m: Memberships) -> set[str]:
    return {r.key for r in rules if grants(r, m)}
