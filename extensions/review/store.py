"""The list of notebooks this user submitted (for ``GET review/status``), kept in a small JSON file.

No tokens or notebook content: path, project, branch and merge request iid/url/title only.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path


class SubmissionStore:
    def __init__(self, state_dir: str):
        self.path = Path(state_dir) / "submissions.json"
        self._lock = threading.Lock()

    def load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, api_path: str, entry: dict) -> None:
        with self._lock:
            data = self.load()
            data[api_path] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".submissions-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
