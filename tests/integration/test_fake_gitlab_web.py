"""The demo web pages of the GitLab stand-in: MR list, rendered (escaped) Markdown, diff, Approve/Merge."""

import html
import re

import pytest
import requests

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"


def browser_session(server, user, password):
    session = requests.Session()
    form = session.get(f"{server.url}/users/sign_in", timeout=10).text
    xsrf = html.unescape(re.search(r'name="_xsrf" value="([^"]+)"', form).group(1))
    r = session.post(
        f"{server.url}/users/sign_in",
        timeout=10,
        allow_redirects=False,
        data={"_xsrf": xsrf, "user[login]": user, "user[password]": password, "redirect_to": "/"},
    )
    assert r.status_code == 302
    return session


def post_button(session, server, page_html, label):
    form = next(f for f in re.findall(r"<form .*?</form>", page_html, re.S) if f">{label}</button>" in f)
    action = re.search(r'action="([^"]+)"', form).group(1)
    xsrf = html.unescape(re.search(r'name="_xsrf" value="([^"]+)"', form).group(1))
    return session.post(server.url + html.unescape(action), data={"_xsrf": xsrf}, timeout=10)


def test_mr_page_renders_markdown_safely_and_buttons_approve_and_merge(gitlab_server):
    alice = gitlab_server.client(gitlab_server.user_token("alice", ["api"]))
    project = alice.projects.get(PROJECT)
    project.branches.create({"branch": "web-demo", "ref": "main"})
    project.commits.create(
        {
            "branch": "web-demo",
            "commit_message": "Tune model",
            "actions": [{"action": "update", "file_path": "analysis/churn.py", "content": "print('tuned <model>')\n"}],
        }
    )
    mr = project.mergerequests.create(
        {
            "source_branch": "web-demo",
            "target_branch": "main",
            "title": "Tune <b>model</b>",
            "description": "## Summary\n\n*Cell 2* changed.\n\n<script>alert('x')</script>\n\n[bad](javascript:alert(1))",
        }
    )

    anonymous = requests.get(
        f"{gitlab_server.url}/{PROJECT}/-/merge_requests/{mr.iid}", allow_redirects=False, timeout=10
    )
    assert anonymous.status_code == 302 and "/users/sign_in" in anonymous.headers["Location"]

    bob = browser_session(gitlab_server, "bob", "bob-pass-1")
    listing = bob.get(f"{gitlab_server.url}/{PROJECT}", timeout=10).text
    assert f'href="/{PROJECT}/-/merge_requests/{mr.iid}"' in listing and "Tune &lt;b&gt;model&lt;/b&gt;" in listing

    page = bob.get(f"{gitlab_server.url}/{PROJECT}/-/merge_requests/{mr.iid}", timeout=10).text
    assert "<h2>Summary</h2>" in page and "<em>Cell 2</em>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "javascript:" not in page
    assert "+print(&#x27;tuned &lt;model&gt;&#x27;)" in page
    assert ">Approve</button>" in page and ">Merge</button>" in page

    approved = post_button(bob, gitlab_server, page, "Approve")
    assert approved.status_code == 200 and "Approved by: bob" in approved.text
    assert project.mergerequests.get(mr.iid).approvals.get().approved_by[0]["user"]["username"] == "bob"
    merged = post_button(bob, gitlab_server, approved.text, "Merge")
    assert 'data-testid="mr-state">merged<' in merged.text
    assert project.mergerequests.get(mr.iid).state == "merged"
    assert project.files.get("analysis/churn.py", ref="main").decode() == b"print('tuned <model>')\n"


def test_author_sees_no_approve_button_and_reporter_no_merge_button(gitlab_server):
    alice = gitlab_server.client(gitlab_server.user_token("alice", ["api"]))
    project = alice.projects.get(PROJECT)
    project.branches.create({"branch": "own", "ref": "main"})
    mr = project.mergerequests.create({"source_branch": "own", "target_branch": "main", "title": "Own work"})
    own = browser_session(gitlab_server, "alice", "alice-pass-1")
    page = own.get(f"{gitlab_server.url}/{PROJECT}/-/merge_requests/{mr.iid}", timeout=10).text
    assert ">Approve</button>" not in page and ">Merge</button>" in page
    dave = browser_session(gitlab_server, "dave", "dave-pass-1")
    page = dave.get(f"{gitlab_server.url}/{PROJECT}/-/merge_requests/{mr.iid}", timeout=10).text
    assert ">Approve</button>" not in page and ">Merge</button>" not in page
    forged = dave.post(f"{gitlab_server.url}/{PROJECT}/-/merge_requests/{mr.iid}/merge", timeout=10, data={})
    assert forged.status_code == 403  # no XSRF token: refused before anything happens
    assert project.mergerequests.get(mr.iid).state == "opened"
