"""Record what was installed into the image (runs inside the image build).

Usage: ``record_packages.py DIR [PART...]`` (parts default to ``deps project``).

Writes, into DIR:
  pip-report.json  the ``pip install --report`` files ``pip-report-PART.json`` merged into one
                   report (one ``install`` list), so an auditor reads one file; a report
                   already there (from the image this one is layered on) is kept and
                   extended, so a layered image's report covers its whole venv;
  pip-freeze.txt   ``pip freeze --all`` of the venv, as pip prints it;
  packages.txt     ``name==version`` of every package in the venv (the project's own wheel
                   included, which ``pip freeze`` shows as a file URL); the build turns it into
                   the ``org.jupyterhub-ds.packages`` image label.

Only the standard library: this runs before anything else could be trusted to be there.
"""

import json
import pathlib
import subprocess
import sys


def main(out_dir, parts=("deps", "project")):
    out = pathlib.Path(out_dir)
    merged_path = out / "pip-report.json"
    paths = [out / f"pip-report-{part}.json" for part in parts]
    reports = [json.loads(merged_path.read_text())] if merged_path.exists() else []
    reports += [json.loads(p.read_text()) for p in paths]
    merged = dict(reports[-1])
    merged["install"] = [item for report in reports for item in report.get("install", [])]
    merged_path.write_text(json.dumps(merged, indent=1, sort_keys=True))
    for p in paths:
        p.unlink()
    for name, args in (("pip-freeze.txt", ["freeze", "--all"]), ("packages.txt", ["list", "--format=freeze"])):
        text = subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True).stdout
        (out / name).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ("deps", "project"))
