"""A small least-recently-used mapping for the review extension's per-file caches.

``functools.lru_cache`` memoises a function of hashable arguments; these caches are keyed by
a path and hold a value that is valid while the file's signature matches, so they need a
mapping: this one keeps the ``maxsize`` most recently used entries, and is safe to use from
the server's thread pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

_MISSING = object()


class LRU:
    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"LRU maxsize must be at least 1, not {maxsize}")
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._data.move_to_end(key)
            return value

    def __setitem__(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def pop(self, key, default=None):
        with self._lock:
            return self._data.pop(key, default)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
