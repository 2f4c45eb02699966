"""Benchmark of "Submit for review" (a script, not a test).

    .venv/bin/python -m tests.benchmarks.bench_review [--rounds 7]

Against the GitLab stand-in on loopback, with a 1000-cell (~4 MB with outputs) notebook:
1. submit with 5 edited cells vs the raw `git add && git commit && git push` + one MR API call,
   same edits, side by side in one run -> ratio (goal <= 1.5), two ways:
   - the button: the dialog runs "check" when it opens (timed and shown apart), stays open while
     the user types a title, then Submit is clicked (timed);
   - the REST API called straight after a save, with no check (gates, fetch, everything timed);
2. worst-case summary: every cell changed -> time and whether the fallback was used (goal: the
   cell-level summary, no fallback, <= 1 s);
3. pairing save: what pairing adds to a save through jupytext's contents manager (our
   jupytext.toml; the same manager outside a repo is the unpaired save) vs a plain jupytext write
   of the same script (goal <= 1.2x); the whole paired save vs plain writes of both files is shown too.
Each timed step starts after a garbage collection, so a collection left over by the previous
step is not counted against the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

from tests.fixtures.gitlab import DEFAULT_SEED, run_git, start_gitlab, stop_process

PROJECT = "data-science/notebooks"
PAT = "glpat-alice-benchmark-0123456789"
CELLS = 1000
EDITED = (10, 250, 500, 750, 990)
DIALOG_SECONDS = 1.0  # the shortest time a person keeps the submit dialog open


def big_notebook(cells=CELLS, output_bytes=3600):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i in range(cells):
        if i % 10 == 0:
            nb.cells.append(nbformat.v4.new_markdown_cell(f"## Step {i}\n\nExplains what cell {i + 1} does."))
            continue
        cell = nbformat.v4.new_code_cell(f"x{i} = compute({i})\nresult_{i} = x{i} * 2\nprint(result_{i})")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=(f"{i} " * output_bytes)[:output_bytes] + "\n")
        ]
        cell.execution_count = i
        nb.cells.append(cell)
    return nb


def edit(nb, round_no, cells=EDITED):
    nb = copy.deepcopy(nb)
    for i in cells:
        c = nb.cells[i]
        c.source = c.source + f"\n# round {round_no}" if c.cell_type == "code" else c.source + f" (round {round_no})"
    return nb


def write_pair(nb, ipynb: Path):
    jupytext.write(nb, str(ipynb), fmt="ipynb")
    jupytext.write(nb, str(ipynb.with_suffix(".py")), fmt="py:percent")


def seed():
    s = copy.deepcopy(DEFAULT_SEED)
    alice = next(u for u in s["users"] if u["username"] == "alice")
    alice["personal_access_tokens"] = [{"name": "bench", "token": PAT, "scopes": ["api"]}]
    return s


HELPER = f"!f() {{ test \"$1\" = get && printf 'username=oauth2\\npassword=%s\\n' {PAT}; }}; f"


def clone(server, dest: Path):
    run_git("clone", "--quiet", server.repo_url(PROJECT, PAT), str(dest))
    run_git("remote", "set-url", "origin", server.repo_url(PROJECT), cwd=dest)
    run_git("config", "user.name", "Alice Analyst", cwd=dest)
    run_git("config", "user.email", "alice@example.com", cwd=dest)


def push(cwd, refspec):
    run_git("-c", f"credential.helper={HELPER}", "push", "--quiet", "origin", refspec, cwd=cwd)


def make_service(root: Path, server, state: Path, saves=None):
    from concurrent.futures import ThreadPoolExecutor

    from jupyterhub_ds.review.config import ReviewConfig
    from jupyterhub_ds.review.service import ReviewService
    from jupyterhub_ds.review.summary_worker import SummaryWorker

    settings = ReviewConfig(
        token_source=lambda: PAT,
        identity_source=lambda: {"username": "alice", "name": "Alice Analyst", "email": "alice@example.com"},
        username="alice",
        gitlab_url=server.url,
        git_credential_helper=HELPER,
        state_dir=str(state),
        policy={"target_branch": "base", "max_file_size": 50_000_000, "max_submission_size": 100_000_000},
    )
    log = logging.getLogger("bench")
    # what the extension app owns in a server; the benchmark process ends with them
    executor = ThreadPoolExecutor(16)
    return ReviewService(
        settings,
        str(root),
        log,
        saves,
        executor=executor,
        worker=SummaryWorker(log=log, standby=settings.summary_standby, executor=executor),
    )


def bench_submit(server, work: Path, rounds: int):
    root = work / "home"
    ours_wc, raw_wc = root / "projects/data-science/notebooks", work / "raw"
    clone(server, ours_wc)
    clone(server, raw_wc)
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    from jupyterhub_ds.review.pairing import PairOnSave, ensure_pairing

    ensure_pairing(ours_wc)
    # saves go through jupytext's contents manager with our post-save hook, as in JupyterLab
    cm = build_sync_jupytext_contents_manager_class(FileContentsManager)(root_dir=str(root))
    saves = PairOnSave(root)
    cm.register_post_save_hook(saves)
    api_path = "projects/data-science/notebooks/analysis/big.ipynb"

    def save(notebook):
        cm.save({"type": "notebook", "format": "json", "content": json.loads(json.dumps(notebook))}, api_path)

    nb = big_notebook()
    ipynb = ours_wc / "analysis/big.ipynb"
    ipynb.parent.mkdir(parents=True, exist_ok=True)
    save(nb)
    print(
        f"notebook: {CELLS} cells, {ipynb.stat().st_size / 1e6:.1f} MB (.ipynb), "
        f"{ipynb.with_suffix('.py').stat().st_size / 1e3:.0f} KB (.py:percent); {len(EDITED)} cells edited per round"
    )
    # the base both sides start from: the script committed on branch "base"
    run_git("add", "-f", "analysis/big.py", cwd=ours_wc)
    run_git("commit", "-qm", "base", cwd=ours_wc)
    push(ours_wc, "HEAD:refs/heads/base")
    run_git("fetch", "-q", "origin", "base", cwd=raw_wc, check=False)
    run_git("-c", f"credential.helper={HELPER}", "fetch", "-q", "origin", "base:base", cwd=raw_wc)
    run_git("checkout", "-q", "base", cwd=raw_wc)
    gl = server.client(PAT).projects.get(PROJECT)
    service = make_service(root, server, work / "state", saves)
    loop = asyncio.new_event_loop()
    # warm both paths once (worker process start, imports, first MR creation)
    loop.run_until_complete(
        service.worker.summarise(path="w", script_path="w.py", target="base", base_script="", new_script="", timeout=10)
    )
    ours, after_check, checks, raw, fallbacks = [], [], [], [], 0
    for r in range(rounds + 1):
        # the button: a save, "check" when the dialog opens, the user reading it and typing a
        # title while the server goes on (DIALOG_SECONDS, not timed), then the timed submit
        save(edit(nb, 1000 + r))
        gc.collect()
        t0 = time.perf_counter()
        loop.run_until_complete(service.check(api_path))
        t_check = time.perf_counter() - t0
        loop.run_until_complete(asyncio.sleep(DIALOG_SECONDS))
        gc.collect()
        t0 = time.perf_counter()
        res = loop.run_until_complete(service.submit(api_path, f"Round {r} (after check)"))
        t_after_check = time.perf_counter() - t0
        fallbacks += bool(res["summary_fallback"])
        # the REST API: a save, then submit straight away
        save(edit(nb, r))
        gc.collect()
        t0 = time.perf_counter()
        res = loop.run_until_complete(service.submit(api_path, f"Round {r}"))
        t_ours = time.perf_counter() - t0
        fallbacks += bool(res["summary_fallback"])
        # raw: same script, plain git + one MR API call
        (raw_wc / "analysis").mkdir(exist_ok=True)
        (raw_wc / "analysis/big.py").write_bytes(ipynb.with_suffix(".py").read_bytes())
        gc.collect()
        t0 = time.perf_counter()
        run_git("add", "analysis/big.py", cwd=raw_wc)
        run_git("commit", "-qm", f"Round {r}", cwd=raw_wc)
        push(raw_wc, f"HEAD:refs/heads/raw/{r}")
        gl.mergerequests.create({"source_branch": f"raw/{r}", "target_branch": "base", "title": f"Round {r}"})
        t_raw = time.perf_counter() - t0
        if r == 0:
            continue  # warm-up round
        ours.append(t_ours)
        after_check.append(t_after_check)
        checks.append(t_check)
        raw.append(t_raw)
        print(
            f"  round {r}: button {t_after_check:.3f} s (check when the dialog opened {t_check:.3f} s), "
            f"REST API with no check {t_ours:.3f} s (MR !{res['mr']['iid']}, "
            f"{'created' if res['created'] else 'updated'}), raw {t_raw:.3f} s"
        )
    loop.run_until_complete(asyncio.sleep(0.2))  # let the last submit's clean-up finish
    loop.close()
    o, c, k, w = (statistics.median(x) for x in (ours, after_check, checks, raw))
    print(
        f"submit, median of {rounds}: raw git+MR {w:.3f} s; the button {c:.3f} s, ratio {c / w:.2f} (goal <= 1.5); "
        f"the REST API with no check {o:.3f} s, ratio {o / w:.2f} (goal <= 1.5); the dialog's check when it "
        f"opens {k:.3f} s; summary fallback used in {fallbacks} of {2 * (rounds + 1)} submits"
    )
    return c / w, o / w


def bench_worst_summary(work: Path):
    import functools

    from jupyterhub_ds.review.config import ReviewConfig
    from jupyterhub_ds.review.gitops import Git
    from jupyterhub_ds.review.summary_worker import SummaryWorker

    base = big_notebook()
    changed = copy.deepcopy(base)
    for c in changed.cells:
        c.source = c.source.replace("compute", "recompute").replace("Explains", "Describes")
    base_script, new_script = jupytext.writes(base, fmt="py:percent"), jupytext.writes(changed, fmt="py:percent")
    # as in a submit: the fallback diff comes from git, against the target's commit
    repo = work / "worst"
    repo.mkdir()
    run_git("init", "-q", cwd=repo)
    (repo / "big.py").write_text(base_script)
    run_git("add", "big.py", cwd=repo)
    run_git("commit", "-qm", "base", cwd=repo)
    g = Git.open(repo)
    script_diff = functools.partial(g.diff_text, g.rev("HEAD"), "big.py", new_script.encode())
    worker = SummaryWorker()
    loop = asyncio.new_event_loop()
    # a server's worker is warm by the time of a submit (started when the dialog opens)
    loop.run_until_complete(
        worker.summarise(path="w", script_path="w.py", target="main", base_script="", new_script="", timeout=30)
    )
    times, used = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        text, fallback = loop.run_until_complete(
            worker.summarise(
                timeout=ReviewConfig().summary_timeout,
                path="analysis/big.ipynb",
                script_path="analysis/big.py",
                target="main",
                base_script=base_script,
                new_script=new_script,
                script_diff=script_diff,
            )
        )
        times.append(time.perf_counter() - t0)
        used.append(fallback)
    loop.close()
    print(
        f"worst-case summary (all {CELLS} cells changed): max {max(times):.2f} s over 3 runs "
        f"(goal <= 1 s, the cell-level summary), fallback used in {sum(used)} of 3, "
        f"{len(text) / 1e3:.0f} KB of Markdown"
    )
    return max(times), any(used)


def bench_pairing(work: Path, repeats: int = 21):
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    from jupyterhub_ds.review.pairing import PairOnSave, ensure_pairing

    repo, outside = work / "pairing", work / "not-a-repo"
    (repo / ".git").mkdir(parents=True)
    outside.mkdir()
    ensure_pairing(repo)
    cm_class = build_sync_jupytext_contents_manager_class(FileContentsManager)
    cm, cm_unpaired = cm_class(root_dir=str(repo)), cm_class(root_dir=str(outside))
    cm.register_post_save_hook(PairOnSave(repo))  # as the server extension registers it
    nb = big_notebook()
    model = {"type": "notebook", "format": "json", "content": json.loads(json.dumps(nb))}  # as JupyterLab sends it
    paired, unpaired, script, plain = [], [], [], []

    def timed(fn, *args, **kwargs):
        gc.collect()
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        return time.perf_counter() - t0

    for i in range(repeats + 1):
        times = (
            timed(cm.save, copy.deepcopy(model), "a.ipynb"),
            timed(cm_unpaired.save, copy.deepcopy(model), "a.ipynb"),
            timed(jupytext.write, nb, str(repo / "c.py"), fmt="py:percent"),
            timed(write_pair, nb, repo / "b.ipynb"),
        )
        if i:
            for series, t in zip((paired, unpaired, script, plain), times, strict=True):
                series.append(t)
    assert (repo / "a.py").exists() and not (outside / "a.py").exists(), "pairing applied where it should not"
    p, u, j, w = (statistics.median(x) for x in (paired, unpaired, script, plain))
    ratio = (p - u) / j
    print(
        f"pairing save of the 1000-cell notebook, median of {repeats}: contents manager with our pairing (ipynb + py) "
        f"{p:.3f} s, the same manager outside a repo (ipynb only) {u:.3f} s -> pairing adds {p - u:.3f} s; a plain "
        f"jupytext write of the script {j:.3f} s -> ratio {ratio:.2f} (goal <= 1.2). For reference: plain jupytext "
        f"writes of both files {w:.3f} s; the paired save takes {p / w:.2f}x that, as it also pays what every "
        f"Jupyter save does (trust signature, atomic write, model)"
    )
    return ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bench").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        work = Path(tmp)
        server = start_gitlab(seed(), work / "gitlab")
        try:
            button, api = bench_submit(server, work, args.rounds)
        finally:
            stop_process(server.process)
        worst, worst_fallback = bench_worst_summary(work)
        pairing = bench_pairing(work)

    def verdict(ok):
        return "yes" if ok else "NO"

    print(
        f"\nsummary: submit ratio {button:.2f} with the button, {api:.2f} through the REST API with no check "
        f"(<= 1.5: {verdict(button <= 1.5)}, {verdict(api <= 1.5)}); worst-case summary {worst:.2f} s "
        f"{'with' if worst_fallback else 'without'} the fallback (<= 1 s without: "
        f"{verdict(worst <= 1 and not worst_fallback)}); pairing save ratio {pairing:.2f} "
        f"(<= 1.2: {verdict(pairing <= 1.2)})"
    )


if __name__ == "__main__":
    main()
