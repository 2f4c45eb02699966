"""Review runs in process: the ReviewRuns queue with an in-memory GitLab and a clean run that
writes executed notebooks at once (a Promoter subclass, as promoter_class loads one; no Docker).
The real containers, hub and GitLab stand-in: tests/integration/test_review_runs_hub.py."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import nbformat
import pytest

from jupyterhub_ds.promotion.clean_run import CleanRunOutcome
from jupyterhub_ds.promotion.promote import Promoter
from jupyterhub_ds.promotion.records import ReviewRun, Store, utcnow
from jupyterhub_ds.promotion.review_decisions import NOTE_MARKER
from jupyterhub_ds.promotion.review_runs import QueueFull, ReviewRuns
from jupyterhub_ds.promotion.settings import settings_from_json

pytestmark = pytest.mark.unit

PROJECT = "ds/churn"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def settings(**project):
    return settings_from_json(
        json.dumps(
            {
                "projects": [
                    {
                        "path": PROJECT,
                        "image": "img:1",
                        "notebooks": ["a.ipynb"],
                        "seed": 7,
                        "parameters": {"n": 1},
                        "cell_timeout": 30,
                        "volumes": [{"source": "/srv/data", "target": "/data"}],
                        "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
                        **project,
                    }
                ]
            }
        )
    )


class FakeGitLab:
    """One project: merge requests with their head commit's changed files, statuses and notes."""

    def __init__(self):
        self.mrs = {}  # iid -> attributes
        self.files = {}  # sha -> {path: text}
        self.statuses = []  # (sha, state, name, ref, target_url, description)
        self.notes = {}  # iid -> {note id: body}
        self.levels = {"alice": 30, "dave": 20, "gus": 10}
        self.asked, self.listed = [], []

    def push(self, iid, sha, files):
        self.files[sha] = files
        self.mrs[iid] = {
            "iid": iid,
            "sha": sha,
            "source_branch": f"review/alice/{iid}",
            "target_branch": "main",
            "state": "opened",
            "updated_at": f"2030-01-01T00:00:{len(self.files):02d}Z",
        }

    async def open_merge_requests(self, updated_after=None, limit=100):
        """GitLab's answer: updated since ``updated_after``, least recently updated first."""
        self.listed.append(updated_after)
        found = sorted(
            (
                m
                for m in self.mrs.values()
                if m["state"] == "opened"
                and (updated_after is None or m["updated_at"] >= updated_after.replace("+00:00", "Z"))
            ),
            key=lambda m: m["updated_at"],
        )
        return [dict(m) for m in found][:limit]

    async def merge_request(self, iid):
        return self.mrs.get(iid)

    async def fetch_commit(self, sha):
        pass

    async def fetch(self, *branches):
        return {b: "base" for b in branches}

    async def merge_base(self, a, b):
        return "base"

    async def changed_paths(self, base, head, limit=1000):
        assert base == "base"
        return list(self.files[head])

    async def script_text(self, sha, path, limit=None):
        return self.files[sha][path]

    async def archive(self, sha):
        return json.dumps(self.files[sha]).encode()

    async def set_status(self, sha, state, *, name, ref=None, target_url=None, description=None):
        self.statuses.append((sha, state, name, ref, target_url, description))

    async def upsert_note(self, mr_iid, marker, body, known_id=None):
        notes = self.notes.setdefault(mr_iid, {})
        found = next((i for i, b in notes.items() if marker in b), None)
        note_id = found or 100 + len(notes)
        notes[note_id] = body
        return note_id

    async def reader_access(self, username):
        self.asked.append(username)
        return self.levels.get(username, 0)

    def states(self, sha):
        return [s[1] for s in self.statuses if s[0] == sha]


class NotebookPromoter(Promoter):
    """The clean run: each notebook's first cell says what happens (``raise`` fails it); the
    executed notebook is written where the container's output folder lands. ``gate``: a
    threading.Event the run waits for (a run that takes a while)."""

    gate = None
    jobs = []
    installed = []  # the image's distributions, as the in-container runner reports them

    def clean_run(self, job, source_tar):
        if self.gate is not None:
            assert self.gate.wait(10), "the test never let the clean run finish"
        type(self).jobs.append(job)
        files = json.loads(source_tar)
        results = []
        for path in job.notebooks:
            failing = "raise" in files[path]
            nb = nbformat.v4.new_notebook()
            nb.cells = [
                nbformat.v4.new_code_cell(
                    files[path],
                    outputs=[nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
                    if not failing
                    else [],
                )
            ]
            target = Path(job.artifacts_dir) / "out" / "notebooks" / (path.rsplit(".", 1)[0] + ".ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(nbformat.writes(nb))
            results.append(
                {
                    "path": path,
                    "status": "failed",
                    "failed_cell": 1,
                    "error": "ValueError: bad rate",
                    "failed_source": files[path],
                    "duration": 0.1,
                }
                if failing
                else {"path": path, "status": "ok", "duration": 0.1}
            )
        return CleanRunOutcome(
            image_id="sha256:1",
            image_digest="img@sha256:1",
            notebooks=results,
            tests={},
            installed=list(self.installed),
            imports=[],
            log_tail="done",
        )


@pytest.fixture
def gitlab():
    return FakeGitLab()


@pytest.fixture
def make_runs(gitlab, tmp_path):
    made = []

    def make(project_settings=None, **traits):
        NotebookPromoter.gate, NotebookPromoter.jobs, NotebookPromoter.installed = None, [], []
        store = Store("sqlite://")
        s = project_settings or settings()
        promoter = NotebookPromoter(s, store, None, lambda path: gitlab, tmp_path, run_limits={"cpu_limit": 1.0})
        runs = ReviewRuns(
            s,
            store,
            promoter,
            lambda path: gitlab,
            tmp_path,
            public_url="https://hub.example/svc",
            stopping=threading.Event(),
            **traits,
        )
        made.append(runs)
        return runs

    yield make
    if NotebookPromoter.gate is not None:
        NotebookPromoter.gate.set()


async def settled(runs, timeout=10):
    """Until nothing runs or waits."""
    for _ in range(int(timeout / 0.02)):
        if not runs.running_ids() and not runs.store.review_queue():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("review runs did not settle")


async def test_a_merge_request_gets_pending_running_success_a_note_and_html(gitlab, make_runs):
    runs = make_runs()
    gitlab.push(
        1,
        "s1",
        {
            "plot.py": "# %%\nplt.plot()\n",
            "plot.ipynb": "{}",
            "util.py": "def f(): pass\n",
            "train.py": "# %%\nfit()\n",
            "data.csv": "a,b\n",
        },
    )
    [queued] = await runs.poll_once()
    assert queued["status"] == "queued" and queued["commit"] == "s1"
    await settled(runs)
    run = runs.store.get_review(queued["run_id"])
    assert run.status == "passed" and [nb["path"] for nb in run.notebooks] == ["plot.ipynb", "train.py"]
    [job] = NotebookPromoter.jobs
    assert (job.image, job.seed, job.parameters, job.cell_timeout, job.run_tests) == ("img:1", 7, {"n": 1}, 30, False)
    assert job.volumes == ({"source": "/srv/data", "target": "/data"},) and job.default_limits == {"cpu_limit": 1.0}
    url = f"https://hub.example/svc/review-runs/{run.id}"
    assert [(s[1], s[2], s[3], s[4]) for s in gitlab.statuses] == [
        ("pending", "jupyterhub-ds/run", "review/alice/1", url),
        ("running", "jupyterhub-ds/run", "review/alice/1", url),
        ("success", "jupyterhub-ds/run", "review/alice/1", url),
    ]
    [(note_id, body)] = gitlab.notes[1].items()
    assert body.startswith(NOTE_MARKER) and f"[executed notebook]({url}/notebooks/0)" in body
    html = runs.html_path(run, 0).read_text()
    assert f"data:image/png;base64,{PNG}" in html and "<script" not in html
    assert run.note_id == note_id

    # the same head again: nothing new; a new head: one more run, the same note edited
    assert [r["run_id"] for r in await runs.poll_once()] == [run.id]
    assert len(runs.store.review_runs()) == 1
    gitlab.push(1, "s2", {"plot.py": "# %%\nraise ValueError('bad rate')\n"})
    await runs.poll_once()
    await settled(runs)
    latest = runs.store.review_runs()[0]
    assert latest.status == "failed" and latest.error == "plot.py cell 1: ValueError: bad rate"
    assert gitlab.states("s2") == ["pending", "running", "failed"]
    assert gitlab.statuses[-1][5] == "plot.py cell 1: ValueError: bad rate"
    assert list(gitlab.notes[1]) == [note_id]  # edited, not a second note
    assert "plot.py` cell 1 failed with `ValueError: bad rate`" in gitlab.notes[1][note_id]


async def test_a_newer_commit_cancels_the_queued_run_and_one_run_completes(gitlab, make_runs):
    runs = make_runs(per_project=1)
    NotebookPromoter.gate = gate = threading.Event()
    gitlab.push(1, "slow", {"slow.py": "# %%\nsleep()\n"})
    await runs.poll_once()
    for _ in range(100):  # the first run holds the project's one slot
        if runs.running_ids():
            break
        await asyncio.sleep(0.01)
    gitlab.push(2, "b1", {"b.py": "# %%\nb = 1\n"})
    [first] = [r for r in await runs.poll_once() if r["commit"] == "b1"]
    assert first["status"] == "queued" and gitlab.states("b1") == ["pending"]
    gitlab.push(2, "b2", {"b.py": "# %%\nb = 2\n"})
    await runs.poll_once()
    assert runs.store.get_review(first["run_id"]).status == "canceled"
    assert gitlab.states("b1") == ["pending", "canceled"]
    gate.set()
    await settled(runs)
    done = {r.commit: r.status for r in runs.store.review_runs()}
    assert done == {"slow": "passed", "b1": "canceled", "b2": "passed"}
    assert [job.notebooks for job in NotebookPromoter.jobs] == [["slow.py"], ["b.py"]]
    assert gitlab.states("b2") == ["pending", "running", "success"] and 2 in gitlab.notes


async def test_limits_restart_and_an_admin_asking_again(gitlab, make_runs, tmp_path):
    runs = make_runs(queue_limit=1, concurrency=1)
    NotebookPromoter.gate = gate = threading.Event()
    gitlab.push(1, "s1", {"a.py": "# %%\n1\n"})
    gitlab.push(2, "s2", {"b.py": "# %%\n2\n"})
    gitlab.push(3, "s3", {"c.py": "# %%\n3\n"})
    offered = await runs.poll_once()  # one runs, one waits, the third does not fit
    assert sorted(r["commit"] for r in offered) == ["s1", "s2"] and "s3" not in {
        r.commit for r in runs.store.review_runs()
    }
    with pytest.raises(QueueFull, match="1 review runs wait already"):
        await runs.request(PROJECT, 3, "admin")
    gate.set()
    await settled(runs)
    assert [r.commit for r in runs.store.review_runs(status="passed")] == ["s2", "s1"]
    # the next look goes on from the last merge request it queued: the one that did not fit runs now
    again = {r["commit"]: r["status"] for r in await runs.poll_once()}
    assert again == {"s1": "passed", "s2": "passed", "s3": "queued"}  # (those within the margin ran already)
    assert gitlab.listed[-1] == "2029-12-31T23:59:32+00:00"  # s2's update, less the margin
    await settled(runs)
    assert runs.store.review_runs()[0].commit == "s3"
    again = await runs.request(PROJECT, 1, "run now by ada")  # an admin asks: it runs again
    assert again["trigger"] == "run now by ada" and again["status"] == "queued"
    await settled(runs)
    with pytest.raises(LookupError, match="has no merge request !9"):
        await runs.request(PROJECT, 9, "admin")

    # a service stopped mid-run: the run waits again at the next start (the same record)
    store = runs.store
    store.add(
        ReviewRun(
            id="left",
            project=PROJECT,
            mr_iid=3,
            commit="s3",
            queued_at=utcnow(),
            status="running",
            source_branch="review/alice/3",
            target_branch="main",
            artifacts=str(tmp_path / "left"),
        )
    )
    runs.requeue_interrupted()
    assert store.get_review("left").status == "queued"


async def test_runs_are_off_for_a_project_that_says_so(gitlab, make_runs):
    runs = make_runs(settings(review_runs=False))
    gitlab.push(1, "s1", {"a.py": "# %%\n"})
    assert await runs.poll_once() == [] and gitlab.statuses == []
    with pytest.raises(LookupError, match="review runs are off for ds/churn"):
        await runs.request(PROJECT, 1, "admin")


async def test_readers_are_reporters_or_above_asked_once_a_minute(gitlab, make_runs):
    runs = make_runs()
    assert await runs.may_read("alice", PROJECT) and await runs.may_read("dave", PROJECT)
    assert not await runs.may_read("gus", PROJECT) and not await runs.may_read("carol", PROJECT)  # guest, nobody
    assert await runs.may_read("Alice", PROJECT)  # cached (GitLab usernames ignore case)
    assert gitlab.asked == ["alice", "dave", "gus", "carol"]
    gitlab.levels["alice"] = 0  # removed from the project in GitLab
    assert await runs.may_read("alice", PROJECT)  # within reader_cache_seconds
    runs.reader_cache_seconds = 0
    assert not await runs.may_read("alice", PROJECT)


async def test_a_review_run_refuses_an_image_outside_the_admins_package_policy_as_promotion_does(gitlab, make_runs):
    """The packages: policy of the admin YAML holds for review runs too, with the messages of
    `jupyterhub-ds packages check` (the promotion clean run's check)."""
    policy = {"allowed": {"numpy": ""}, "allowed_licenses": None, "denied_licenses": ["AGPL"]}
    runs = make_runs(settings(package_policy=policy))
    NotebookPromoter.installed = [
        {"name": "numpy", "version": "2.1.0", "license": "BSD", "license_expression": "", "classifiers": []},
        {"name": "mystery", "version": "0.1", "license": "MIT", "license_expression": "", "classifiers": []},
    ]
    gitlab.push(1, "s1", {"plot.py": "# %%\nplt.plot()\n"})
    await runs.poll_once()
    await settled(runs)
    [run] = runs.store.review_runs()
    assert run.status == "failed" and "mystery" in run.error and "allow" in run.error, run.error
    assert gitlab.states("s1")[-1] == "failed"


async def test_a_listing_of_the_wrong_shape_from_the_run_fails_it_instead_of_crashing(gitlab, make_runs):
    """What the runner reports from inside the container (where the notebooks ran) is checked on
    the host like `packages check` checks an image's listing."""
    runs = make_runs()
    NotebookPromoter.installed = [{"name": "evil\x1b[2Knumpy", "version": "1", "license": "MIT"}]
    gitlab.push(1, "s1", {"plot.py": "# %%\nplt.plot()\n"})
    await runs.poll_once()
    await settled(runs)
    [run] = runs.store.review_runs()
    assert run.status == "failed" and "unexpected shape" in run.error and "\x1b" not in run.error, run.error
