"""Demo HTML pages: project list, a project's merge requests, and a merge request page with its
rendered description, diff and Approve/Merge buttons for the signed-in user."""

from __future__ import annotations

import html

from .markdown_safe import render
from .model import DEVELOPER, add_note
from .mr_state import MergeRefused, detailed_status, facts, merge
from .session import WebHandler

e = html.escape


class HomeHandler(WebHandler):
    def get(self):
        user = self.require_login()
        if user is None:
            return
        store = self.ctx.store
        rows = "".join(
            f'<li><a href="/{e(p.full_path)}">{e(p.full_path)}</a> — {e(p.name)}</li>'
            for p in sorted(store.projects.values(), key=lambda p: p.full_path)
            if store.can_see_project(p, user)
        )
        self.page("Projects", f"<ul>{rows or '<li>No projects.</li>'}</ul>")


class ProjectPage(WebHandler):
    def get(self, path):
        user = self.require_login()
        if user is None:
            return
        store = self.ctx.store
        project = store.project_by_ref(path)
        if project is None or not store.can_see_project(project, user):
            return self.page(
                "Page Not Found", "<p>The page could not be found or you don't have permission to view it.</p>", 404
            )
        rows = "".join(
            f'<tr><td><a href="/{e(project.full_path)}/-/merge_requests/{m.iid}">!{m.iid}</a></td>'
            f"<td>{e(m.title)}</td><td>{e(m.source_branch)} → {e(m.target_branch)}</td>"
            f'<td class="state">{e(m.state)}</td></tr>'
            for m in sorted(project.merge_requests, key=lambda m: -m.iid)
        )
        self.page(
            project.name,
            f"""<p><code>{e(self.ctx.base_url)}/{e(project.full_path)}.git</code></p>
<h2>Merge requests</h2><table><tr><th>MR</th><th>Title</th><th>Branches</th><th>State</th></tr>{rows}</table>""",
        )


def diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f'<span class="{cls}">{e(line)}</span>' if cls else e(line))
    return "\n".join(lines)


def status_item(status) -> str:
    """One commit status of the MR's head, as GitLab lists the jobs of its pipeline."""
    text = f"{e(status.name)}: {e(status.status)}" + (f" — {e(status.description)}" if status.description else "")
    link = f' (<a href="{e(status.target_url)}">details</a>)' if status.target_url else ""
    return f'<li class="commit-status" data-status="{e(status.status)}">{text}{link}</li>'


class MergeRequestPage(WebHandler):
    def _find(self, path, iid):
        store = self.ctx.store
        user = self.require_login()
        if user is None:
            return None
        project = store.project_by_ref(path)
        mr = project and next((m for m in project.merge_requests if str(m.iid) == iid), None)
        if mr is None or not store.can_see_project(project, user):
            self.page("Page Not Found", "<p>The merge request could not be found.</p>", 404)
            return None
        return user, project, mr

    async def get(self, path, iid, message: str = ""):
        found = self._find(path, iid)
        if found is None:
            return
        user, project, mr = found
        store, repos = self.ctx.store, self.ctx.repos
        f = await facts(repos, project, mr)
        diffs = await repos.diffs(project.id, f.base_sha, f.head_sha) if f.base_sha and f.head_sha else []
        files = "".join(
            f"<h3>{e(d['new_path'])}</h3><div class='diff'>{diff_html(d.get('diff', ''))}</div>" for d in diffs
        )
        approvers = ", ".join(e(store.users[u].username) for u in mr.approved_by) or "nobody yet"
        notes = "".join(
            f"<li><strong>{e(store.users[n.author_id].username)}</strong> {render(n.body) if not n.system else e(n.body)}</li>"
            for n in mr.notes
        )
        base_url = f"/{e(project.full_path)}/-/merge_requests/{mr.iid}"
        buttons = ""
        if mr.state == "opened":
            xsrf = self.xsrf_form_html()
            if (
                user.id != mr.author_id
                and user.id not in mr.approved_by
                and store.project_access(project, user) >= DEVELOPER
            ):
                buttons += f'<form method="post" action="{base_url}/approve" style="display:inline">{xsrf}<button>Approve</button></form>'
            if store.can_merge(project, user, mr.target_branch):
                buttons += f'<form method="post" action="{base_url}/merge" style="display:inline">{xsrf}<button>Merge</button></form>'
        flash = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
        # external jobs on the head commit, as GitLab shows the MR's pipeline (target URLs are http(s) only)
        checks = "".join(status_item(s) for s in project.statuses if s.sha == f.head_sha and not s.retried)
        self.page(
            f"{mr.title} (!{mr.iid})",
            f"""{flash}
<p><span class="state" data-testid="mr-state">{e(mr.state)}</span> · {e(mr.source_branch)} → {e(mr.target_branch)}
· status <code>{e(detailed_status(mr, f))}</code> · by {e(store.users[mr.author_id].username)}</p>
<div class="description">{render(mr.description)}</div>
<p>Approved by: {approvers}</p><p>{buttons}</p>{f"<h2>Pipeline</h2><ul>{checks}</ul>" if checks else ""}
<h2>Changes ({len(diffs)})</h2>{files}<h2>Activity</h2><ul>{notes}</ul>""",
        )

    async def post(self, path, iid, action):
        found = self._find(path, iid)
        if found is None:
            return
        user, project, mr = found
        store = self.ctx.store
        message = ""
        if action == "approve":
            if (
                mr.state == "opened"
                and user.id != mr.author_id
                and user.id not in mr.approved_by
                and store.project_access(project, user) >= DEVELOPER
            ):
                mr.approved_by.append(user.id)
                add_note(store, mr, user, "approved this merge request", system=True)
            else:
                message = "You cannot approve this merge request."
        elif not store.can_merge(project, user, mr.target_branch):
            message = "You are not allowed to merge this merge request."
        else:
            try:
                await merge(self.ctx.repos, project, mr, user)
                add_note(store, mr, user, "merged", system=True)
            except MergeRefused as refused:
                message = f"Merge failed: {refused.message}"
        if message:
            return await self.get(path, iid, message)
        self.redirect(f"/{project.full_path}/-/merge_requests/{mr.iid}")


class MergeRequestAction(MergeRequestPage):
    """POST .../approve or .../merge; a GET there just shows the MR."""

    def get(self, path, iid, action):
        self.redirect(f"/{path}/-/merge_requests/{iid}")


def routes() -> list:
    return [
        (r"/", HomeHandler),
        (r"/(.+?)/-/merge_requests/(\d+)", MergeRequestPage),
        (r"/(.+?)/-/merge_requests/(\d+)/(approve|merge)", MergeRequestAction),
        (r"/([^-][^/]*/[^/]+(?:/[^/]+)*)", ProjectPage),
    ]
