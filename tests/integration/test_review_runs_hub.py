"""Review runs for real: the promotion service as the hub's managed service, the GitLab stand-in,
clean-run containers of the single-user image. Merge requests are opened and updated as "Submit
for review" does (a commit on the review branch, the merge request created or kept), through
GitLab's API: the service learns of them from GitLab alone.

- a notebook that plots: its merge request's head commit gets the commit status
  ``jupyterhub-ds/run`` (pending while it waits, then success), one note linking the executed
  notebook as HTML (the plot embedded, the project's parameters, seed and read-only data used),
  which a non-member of the project cannot open; two quick re-submits cancel the first queued
  run and one run completes; the next re-submit edits the same note;
- a notebook that raises: a failed status, the note names the cell and the error.
"""

from __future__ import annotations

import copy
import re
import textwrap
import time

import pytest
import requests

from jupyterhub_ds.promotion.clean_run import RUN_LABEL
from jupyterhub_ds.promotion.records import Store
from tests.fixtures.gitlab import DEFAULT_SEED
from tests.fixtures.promotion import IMAGE, call, start_promotion_hub

pytestmark = pytest.mark.integration

PROJECT = "data-science/notebooks"
NAME = "jupyterhub-ds/run"
MARKER = "<!-- jupyterhub-ds:review-run -->"
PLOT = '''\
# %% tags=["parameters"]
rate = 0.5

# %%
import csv
import struct
import zlib

from IPython.display import Image, display

rows = list(csv.DictReader(open("/data/churn.csv")))
print(f"{len(rows)} customers, rate {rate}, seed {JUPYTERHUB_DS_SEED}")


def png(width, height, colour):
    """A bar chart of the churned share, drawn without matplotlib."""
    churned = sum(int(r["churned"]) for r in rows) / len(rows)
    line = b"".join(bytes(colour if x < churned * width else (255, 255, 255)) for x in range(width))
    raw = b"".join(b"\\x00" + line for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


display(Image(data=png(40, 10, COLOUR)))
'''
SLOW = "# %%\nimport time\ntime.sleep(12)\nprint('slow done')\n"
RAISES = "# %%\nrate = 0.2\n\n# %%\nraise ValueError(f'rate {rate} is out of range')\n"


@pytest.fixture
def review_hub(gitlab_server, hub_factory, docker_client, tmp_path):
    docker_client.images.get(IMAGE)  # the single-user image (./dev.sh builds it); the runs need nothing newer
    data = tmp_path / "data"
    data.mkdir()
    (data / "churn.csv").write_text("customer_id,churned\n1,1\n2,0\n3,0\n4,1\n")
    data.chmod(0o755)
    database = f"sqlite:///{tmp_path / 'promotion.sqlite'}"
    config = {
        "database_url": database,
        "gitlab_url": gitlab_server.url,
        "metrics_require_auth": False,
        "projects": [
            {
                "path": PROJECT,
                "image": IMAGE,
                "notebooks": ["analysis/churn.py"],
                "parameters": {"rate": 0.25},
                "seed": 42,
                "cell_timeout": 60,
                "network": False,
                "limits": {"cpu_limit": 1.0, "mem_limit": 1024**3, "pids_limit": 256, "gpus": None},
                "volumes": [{"source": str(data), "target": "/data"}],
                "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
            }
        ],
    }
    hub = start_promotion_hub(
        hub_factory,
        config,
        gitlab_server.admin_token,
        users=("alice", "carol"),
        service_args=("--ReviewRuns.poll_interval=1", "--ReviewRuns.per_project=1"),
    )
    yield hub
    hub.stop()  # the service stops with the hub
    runs = [r.id for r in Store(database).review_runs(limit=100)]
    left = [
        c.name
        for c in docker_client.containers.list(all=True, filters={"label": RUN_LABEL})
        if c.labels.get(RUN_LABEL) in runs
    ]
    assert left == [], "a review run left its container behind"


@pytest.fixture
def gitlab_seed():
    return copy.deepcopy(DEFAULT_SEED)


class Submitter:
    """alice's review branches and merge requests, as Submit for review makes them."""

    def __init__(self, gitlab_server):
        self.project = gitlab_server.client(gitlab_server.user_token("alice", ["api"])).projects.get(PROJECT)
        self.admin = gitlab_server.client().projects.get(PROJECT)
        self.mrs, self.files = {}, {}

    def submit(self, name, files):
        branch = f"review/alice/{name}"
        if name not in self.mrs:
            self.project.branches.create({"branch": branch, "ref": "main"})
        known = self.files.setdefault(name, set())
        actions = [
            {"action": "update" if path in known else "create", "file_path": path, "content": text}
            for path, text in files.items()
        ]
        known.update(files)
        commit = self.project.commits.create({"branch": branch, "commit_message": f"Submit {name}", "actions": actions})
        if name not in self.mrs:
            self.mrs[name] = self.project.mergerequests.create(
                {"source_branch": branch, "target_branch": "main", "title": name, "remove_source_branch": True}
            )
        return commit.id

    def status(self, sha):
        found = self.admin.commits.get(sha, lazy=True).statuses.list(name=NAME, get_all=False)
        return found[0] if found else None

    def notes(self, name):
        mr = self.admin.mergerequests.get(self.mrs[name].iid)
        return [n for n in mr.notes.list(get_all=True) if MARKER in n.body]


def wait_for(check, what, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def plot(colour):
    return {"analysis/plot.py": PLOT.replace("COLOUR", repr(colour)), "analysis/helpers.py": "def f():\n    return 1\n"}


def test_a_plotting_notebook_is_run_shown_and_run_again_as_it_is_resubmitted(review_hub, gitlab_server):
    alice = Submitter(gitlab_server)
    slow = alice.submit("slow", {"analysis/slow.py": SLOW})  # holds the project's one run slot for a while
    wait_for(lambda: (s := alice.status(slow)) and s.status == "running", "the slow run to start")

    first = alice.submit("plot", plot((200, 30, 30)))
    wait_for(lambda: (s := alice.status(first)) and s.status == "pending", "the first plot run to wait (pending)")
    second = alice.submit("plot", plot((30, 30, 200)))  # a quick re-submit
    wait_for(lambda: alice.status(first).status == "canceled", "the first queued run to be canceled")
    assert alice.status(second).status == "pending"

    done = wait_for(lambda: (s := alice.status(second)) and s.status in ("success", "failed") and s, "the plot run")
    assert done.status == "success", done.description
    assert done.created_at <= done.started_at <= done.finished_at  # pending, then running, then success
    assert done.description == "1 notebook ran in a clean container"
    assert alice.status(slow).status == "success"
    runs = call(review_hub, "alice", "GET", f"api/review-runs?project={PROJECT}&iid={alice.mrs['plot'].iid}").json()
    assert [(r["commit"], r["status"]) for r in runs["runs"]] == [(second, "passed"), (first, "canceled")]
    assert done.target_url == f"{review_hub.url}/services/promotion/review-runs/{runs['runs'][0]['run_id']}"

    [note] = wait_for(lambda: alice.notes("plot"), "the note")
    assert f"Commit `{second[:12]}` of `review/alice/plot`" in note.body and "### Clean run passed" in note.body
    [link] = re.findall(r"- `analysis/plot.py`: ok in [0-9.]+ s — \[executed notebook\]\((\S+)\)", note.body)
    assert "helpers.py" not in note.body  # a module is not a notebook
    html = requests.get(link, headers={"Authorization": f"token {review_hub.tokens['alice']}"}, timeout=60)
    assert html.status_code == 200 and re.search(r'<img[^>]+src="data:image/png;base64,', html.text)
    assert "4 customers, rate 0.25, seed 42" in html.text  # the project's data, parameters and seed
    refused = requests.get(link, headers={"Authorization": f"token {review_hub.tokens['carol']}"}, timeout=60)
    assert refused.status_code == 403 and "carol cannot read data-science/notebooks" in refused.json()["message"]

    third = alice.submit("plot", plot((30, 200, 30)))  # the next re-submit: the same note, edited
    done = wait_for(lambda: (s := alice.status(third)) and s.status in ("success", "failed") and s, "the third run")
    assert done.status == "success"
    notes = wait_for(lambda: (n := alice.notes("plot")) and third[:12] in n[0].body and n, "the note to be edited")
    assert [n.id for n in notes] == [note.id]


def test_a_notebook_that_raises_fails_with_its_cell_and_error_in_the_note(review_hub, gitlab_server):
    alice = Submitter(gitlab_server)
    sha = alice.submit("raises", {"analysis/raises.py": RAISES})
    done = wait_for(lambda: (s := alice.status(sha)) and s.status in ("success", "failed") and s, "the run")
    assert done.status == "failed"
    assert done.description == "analysis/raises.py cell 2: ValueError: rate 0.2 is out of range"
    [note] = wait_for(lambda: alice.notes("raises"), "the note")
    assert "### Clean run failed" in note.body
    assert "- `analysis/raises.py`: **failed** at cell 2" in note.body
    assert "`analysis/raises.py` cell 2 failed with `ValueError: rate 0.2 is out of range`:" in note.body
    assert (
        textwrap.dedent("""\
        ```python
        raise ValueError(f'rate {rate} is out of range')
        ```""")
        in note.body
    )
