"""Load a seed (YAML or JSON, see README.md) into the store, token store and repositories."""

from __future__ import annotations

from pathlib import Path

import yaml

from .model import Application, Group, Project, ProtectedBranch, Store, User

TOP_KEYS = {"users", "groups", "projects", "applications"}


class SeedError(ValueError):
    pass


def load_seed_file(path: str | Path) -> dict:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise SeedError(f"seed {path}: the top level must be a mapping with keys {sorted(TOP_KEYS)}")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise SeedError(f"seed {path}: unknown top-level keys {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    return data


def _members(store: Store, entries, where: str) -> dict[int, int]:
    out = {}
    for entry in entries or []:
        user = store.user_by_name(entry["username"])
        if user is None:
            raise SeedError(f"seed {where}: member {entry['username']!r} is not in users")
        out[user.id] = int(entry.get("access_level", 30))
    return out


async def apply_seed(seed: dict, store: Store, tokens, repos) -> None:
    for entry in seed.get("users") or []:
        user = User(
            store.next_id(),
            entry["username"],
            entry.get("name", entry["username"]),
            entry.get("email", f"{entry['username']}@example.com"),
            str(entry.get("password", "")),
            bool(entry.get("is_admin", False)),
            entry.get("state", "active"),
        )
        store.users[user.id] = user
        for pat in entry.get("personal_access_tokens") or []:
            tokens.issue_pat(user.id, pat.get("name", "seeded"), list(pat.get("scopes", ["api"])), value=pat["token"])
    # Parents before children, whatever order the file lists them in.
    for entry in sorted(seed.get("groups") or [], key=lambda g: g["path"].count("/")):
        full = entry["path"].strip("/")
        parent_path = full.rsplit("/", 1)[0] if "/" in full else None
        parent = store.group_by_ref(parent_path) if parent_path else None
        if parent_path and parent is None:
            raise SeedError(f"seed group {full!r}: parent group {parent_path!r} is not defined")
        group = Group(store.next_id(), full, entry.get("name", full.rsplit("/", 1)[-1]), parent.id if parent else None)
        group.members = _members(store, entry.get("members"), f"group {full}")
        store.groups[group.id] = group
    for entry in seed.get("projects") or []:
        full = entry["path"].strip("/") if "namespace" not in entry else f"{entry['namespace']}/{entry['path']}"
        namespace, _, path = full.rpartition("/")
        if not namespace or (store.group_by_ref(namespace) is None and store.user_by_name(namespace) is None):
            raise SeedError(f"seed project {full!r}: namespace {namespace!r} is neither a group nor a user")
        project = Project(
            store.next_id(),
            namespace,
            path,
            entry.get("name", path),
            entry.get("default_branch", "main"),
            entry.get("description", ""),
            entry.get("visibility", "private"),
            entry.get("merge_method", "merge"),
        )
        project.members = _members(store, entry.get("members"), f"project {full}")
        for rule in entry.get("protected_branches") or []:
            rule = {"name": rule} if isinstance(rule, str) else rule
            project.protected[rule["name"]] = ProtectedBranch(
                store.next_id(),
                rule["name"],
                int(rule.get("push_access_level", 40)),
                int(rule.get("merge_access_level", 40)),
                int(rule.get("unprotect_access_level", 40)),
                bool(rule.get("allow_force_push", False)),
            )
        store.projects[project.id] = project
        await repos.create(project.id, project.default_branch)
        files = entry.get("files") or {}
        if files:
            author = entry.get("author") or {"name": "Administrator", "email": "admin@example.com"}
            actions = [{"action": "create", "file_path": p, "content": c} for p, c in files.items()]
            sha = await repos.commit_files(
                project.id, None, actions, entry.get("message", "Initial commit"), author["name"], author["email"]
            )
            await repos.update_ref(project.id, f"refs/heads/{project.default_branch}", sha)
            for branch in entry.get("branches") or []:  # more branches at the same commit
                await repos.update_ref(project.id, f"refs/heads/{branch}", sha)
    for entry in seed.get("applications") or []:
        app = Application(
            store.next_id(),
            entry["name"],
            entry["uid"],
            entry["secret"],
            list(entry.get("redirect_uris") or []),
            list(entry.get("scopes") or ["api"]),
            bool(entry.get("trusted", False)),
            bool(entry.get("confidential", True)),
        )
        store.applications[app.uid] = app
