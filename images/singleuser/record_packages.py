"""Record what was installed into the image (runs inside the image build).

Writes, into the directory given as the only argument:
  pip-report.json  the third-party and project ``pip install --report`` files merged into one
                   report (one ``install`` list), so an auditor reads one file;
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


def main(out_dir):
    out = pathlib.Path(out_dir)
    parts = [out / "pip-report-deps.json", out / "pip-report-project.json"]
    reports = [json.loads(p.read_text()) for p in parts]
    merged = dict(reports[-1])
    merged["install"] = [item for report in reports for item in report.get("install", [])]
    (out / "pip-report.json").write_text(json.dumps(merged, indent=1, sort_keys=True))
    for p in parts:
        p.unlink()
    for name, args in (("pip-freeze.txt", ["freeze", "--all"]), ("packages.txt", ["list", "--format=freeze"])):
        text = subprocess.run(
            [sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True
        ).stdout
        (out / name).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1])
