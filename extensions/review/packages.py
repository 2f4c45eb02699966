"""Import names against the admin's package allow-list (distribution names).

The standard library is always allowed (``sys.stdlib_module_names``). An import name maps to
distributions through ``importlib.metadata.packages_distributions()`` for what is installed,
then through a table of the well-known cases where the two names differ (a package that is
not installed in the user's image cannot be asked).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import metadata

from packaging.utils import canonicalize_name

KNOWN = {
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "cv2": ("opencv-python", "opencv-python-headless"),
    "PIL": ("pillow",),
    "yaml": ("pyyaml",),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "attr": ("attrs",),
    "dotenv": ("python-dotenv",),
    "jwt": ("pyjwt",),
    "Crypto": ("pycryptodome",),
    "gitlab": ("python-gitlab",),
    "git": ("gitpython",),
    "docx": ("python-docx",),
    "magic": ("python-magic",),
    "serial": ("pyserial",),
    "usb": ("pyusb",),
    "zmq": ("pyzmq",),
    "OpenSSL": ("pyopenssl",),
    "google": ("protobuf",),
    "tensorflow_hub": ("tensorflow-hub",),
    "mpl_toolkits": ("matplotlib",),
    "pylab": ("matplotlib",),
    "IPython": ("ipython",),
    "ipywidgets": ("ipywidgets",),
}
# names the notebook runtime always offers
ALWAYS = frozenset({"__future__", "IPython", "ipykernel"})


@lru_cache(maxsize=1)
def installed_map() -> dict:
    try:
        return metadata.packages_distributions()
    except Exception:  # a broken dist-info must not break the gate
        return {}


def distributions_for(module: str, installed: dict | None = None) -> tuple[str, ...]:
    """Candidate distribution names (normalised) that provide ``module``."""
    installed = installed_map() if installed is None else installed
    names = [module, *KNOWN.get(module, ()), *installed.get(module, ())]
    seen = []
    for n in names:
        n = canonicalize_name(n)
        if n not in seen:
            seen.append(n)
    return tuple(seen)


def is_allowed(
    module: str, allowed: frozenset, local_modules: frozenset = frozenset(), installed: dict | None = None
) -> bool:
    if module in sys.stdlib_module_names or module in ALWAYS or module in local_modules:
        return True
    return any(d in allowed for d in distributions_for(module, installed))


def best_name(module: str, installed: dict | None = None) -> str:
    """The distribution name to tell an admin about."""
    candidates = distributions_for(module, installed)
    return candidates[1] if len(candidates) > 1 else candidates[0]
