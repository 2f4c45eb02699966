"""Benchmark (not a test): the promotion's clean run vs a raw ``docker run`` of the same notebook.

    .venv/bin/python -m tests.benchmarks.bench_promotion [--cells 200] [--repeat 3] [--image IMAGE]

Both execute one notebook of ``--cells`` small code cells with nbclient in the same image:

- raw:  ``docker run --rm --network none -v DIR:/nb:ro IMAGE jupyter execute --output /tmp/out.ipynb
        /nb/bench.ipynb`` (papermill is not in the image; ``jupyter execute`` is the same nbclient);
- clean run: ``jupyterhub_ds.promotion.clean_run.execute``: resolve the image id and digest, create the
        container with limits and no network, copy the tree in, execute with injected parameters
        and seed, ``pip freeze`` and licence listing, copy the executed notebook out, remove.

Prints the median wall time of each and their ratio (goal: clean run / raw <= 1.3).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from jupyterhub_ds.promotion.clean_run import CleanRunJob, execute  # noqa: E402


def bench_notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("n = 10000", metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(f"x{i} = sum(range(n))\nprint({i}, x{i})") for i in range(cells - 1)]
    return nbformat.writes(nb)


def tree_tar(text):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("bench.ipynb")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def time_raw(image, workdir):
    started = time.monotonic()
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{workdir}:/nb:ro",
            image,
            "jupyter",
            "execute",
            "--output",
            "/tmp/out.ipynb",
            "/nb/bench.ipynb",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.monotonic() - started


def time_clean_run(client, image, source_tar, artifacts, i):
    job = CleanRunJob(
        run_id=f"bench{i:04d}",
        image=image,
        notebooks=["bench.ipynb"],
        parameters={"n": 10000},
        seed=1,
        cell_timeout=60,
        network=False,
        limits={"cpu_limit": 2.0, "mem_limit": 2 * 1024**3, "pids_limit": 512},
        run_timeout=600,
        artifacts_dir=artifacts / str(i),
    )
    started = time.monotonic()
    outcome = execute(client, job, source_tar)
    elapsed = time.monotonic() - started
    if outcome.error or [n["status"] for n in outcome.notebooks] != ["ok"]:
        raise SystemExit(f"clean run failed: {outcome.error} {outcome.notebooks}\n{outcome.log_tail}")
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", default="jupyterhub-ds/singleuser:latest")
    args = parser.parse_args(argv)

    import docker

    client = docker.from_env(timeout=120)
    text = bench_notebook(args.cells)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "nb").mkdir()
        (tmp / "nb" / "bench.ipynb").write_text(text)
        source_tar = tree_tar(text)
        time_raw(args.image, tmp / "nb")  # warm the page cache / image layers once, not timed
        raw, clean = [], []
        for i in range(args.repeat):  # interleaved, so drift hits both alike
            raw.append(time_raw(args.image, tmp / "nb"))
            clean.append(time_clean_run(client, args.image, source_tar, tmp / "artifacts", i))
    raw_med, clean_med = statistics.median(raw), statistics.median(clean)
    print(f"notebook: {args.cells} cells, image {args.image}, {args.repeat} runs each")
    print(f"raw docker run + jupyter execute: median {raw_med:.2f}s  ({', '.join(f'{t:.2f}' for t in raw)})")
    print(f"promotion clean run (execute):    median {clean_med:.2f}s  ({', '.join(f'{t:.2f}' for t in clean)})")
    ratio = clean_med / raw_med
    print(f"ratio clean run/raw: {ratio:.2f} (goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
