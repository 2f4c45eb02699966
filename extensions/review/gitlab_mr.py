"""GitLab side of a submit with python-gitlab (blocking: callers run these in an executor).

One open merge request per review branch: find it, or create it; GitLab's 409 ("another open
merge request already exists for this source branch") means someone created it meanwhile, so
we look it up again and update it. Its status carries the review run of its head commit: the
commit status the promotion service posts (``jupyterhub-ds/run``), read with the user's token.
"""

from __future__ import annotations

from dataclasses import dataclass

import gitlab
import requests


class GitLabFailure(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # 'auth' | 'unreachable' | 'refused' | 'foreign'
        self.message = message


def mr_json(mr) -> dict:
    return {"iid": mr.iid, "web_url": mr.web_url, "state": mr.state, "title": mr.title}


LOOK_AGAIN = object()  # "no lookup result to go by"


@dataclass
class MergeRequests:
    gl: gitlab.Gitlab
    project_path: str
    author: str = ""  # GitLab username of the submitting user: only their merge requests are updated

    def _project(self):
        return self.gl.projects.get(self.project_path, lazy=True)

    def find_open(self, branch: str):
        """The open merge request of ``branch``, or None. One opened by someone else (who pushed
        to this user's review branch) is never updated: GitLabFailure('foreign')."""
        found = self._project().mergerequests.list(source_branch=branch, state="opened", get_all=False, per_page=5)
        for mr in found:
            by = (getattr(mr, "author", None) or {}).get("username") or ""
            if self.author and by.lower() != self.author.lower():
                raise GitLabFailure(
                    "foreign",
                    f"the review branch {branch} has an open merge request !{mr.iid} opened by "
                    f"{by or 'someone else'}, not by you, so it was not changed; ask them or a "
                    "maintainer to close it, then submit again",
                )
        return found[0] if found else None

    def ensure(self, branch: str, target: str, title: str, description: str, found=LOOK_AGAIN) -> tuple[dict, bool]:
        """-> (mr json, created?). ``found`` is what ``find_open`` returned shortly before (a submit
        looks it up while it pushes); by default, or with LOOK_AGAIN, it is looked up here."""
        with failures(self.gl.url):
            existing = self.find_open(branch) if found is LOOK_AGAIN else found
            if existing is None:
                try:
                    mr = self._project().mergerequests.create(
                        {
                            "source_branch": branch,
                            "target_branch": target,
                            "title": title,
                            "description": description,
                            "remove_source_branch": True,
                        }
                    )
                    return mr_json(mr), True
                except gitlab.GitlabCreateError as e:
                    if e.response_code != 409:
                        raise
                    existing = self.find_open(branch)
                    if existing is None:
                        raise
            existing.title, existing.description = title, description
            if existing.target_branch != target:
                existing.target_branch = target
            existing.save()
            if existing.state != "opened" and found is not LOOK_AGAIN:
                # closed or merged between the lookup and now: open a new one, as GitLab would want
                return self.ensure(branch, target, title, description)
            return mr_json(existing), False

    def status(self, iid: int, run_status: str = "") -> tuple[dict, dict | None]:
        """-> (the merge request with its approvals, the review run of its head commit or None).
        ``run_status``: the commit status name to read ('' : none)."""
        with failures(self.gl.url):
            mr = self._project().mergerequests.get(iid)
            approvals = mr.approvals.get()
            approved_by = getattr(approvals, "approved_by", []) or []
            found = {
                **mr_json(mr),
                "approved": bool(getattr(approvals, "approved", False)) and bool(approved_by),
                "approvals": len(approved_by),
                "merged": mr.state == "merged",
            }
        sha = getattr(mr, "sha", None)
        return found, (self.review_run(sha, run_status) if run_status and sha else None)

    def review_run(self, sha: str, name: str) -> dict | None:
        """The newest commit status ``name`` of ``sha`` as {state, sha, target_url, description}; None
        when there is none or GitLab does not show it to this user (it is extra, never an error)."""
        try:
            statuses = self._project().commits.get(sha, lazy=True).statuses.list(name=name, get_all=False, per_page=20)
        except (gitlab.GitlabError, requests.RequestException):
            return None
        if not statuses:
            return None
        latest = max(statuses, key=lambda s: s.id)
        url = getattr(latest, "target_url", None) or None
        return {
            "state": str(latest.status),
            "sha": sha,
            "target_url": url if url and url.startswith(("https://", "http://")) else None,
            "description": str(getattr(latest, "description", None) or "")[:300],
        }


class failures:
    """Turn python-gitlab/requests errors into GitLabFailure with a message for people."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, GitLabFailure):
            return False
        if isinstance(exc, gitlab.GitlabAuthenticationError) or getattr(exc, "response_code", None) in (401, 403):
            raise GitLabFailure(
                "auth",
                f"GitLab refused your access token ({getattr(exc, 'response_code', 401)}); it may "
                "have expired: reload JupyterLab (or log in to the hub again), then submit again",
            ) from None
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            raise GitLabFailure(
                "unreachable",
                f"GitLab at {self.url} is not reachable; your notebook and commit are kept, try again in a minute",
            ) from None
        code = getattr(exc, "response_code", None)
        if isinstance(exc, gitlab.GitlabError) and code and code >= 500:
            raise GitLabFailure(
                "unreachable", f"GitLab answered {code}; your notebook and commit are kept, try again in a minute"
            ) from None
        if isinstance(exc, gitlab.GitlabError):
            raise GitLabFailure(
                "refused",
                f"GitLab refused the merge request ({code}: {exc.error_message}); "
                "check the project and target branch, then submit again",
            ) from None
        return False
