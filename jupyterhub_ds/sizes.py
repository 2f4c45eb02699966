"""Sizes in bytes: read from the admin YAML (:func:`parse_size`), shown to people (:func:`format_size`).

One rule everywhere (profiles, review limits): a plain integer is bytes; a number with a
unit K, M, G or T is a power of 1024 (as JupyterHub's ``mem_limit`` and Docker read them),
``Ki``/``Mi``/``Gi``/``Ti`` mean the same, an optional trailing ``B`` is ignored and
fractions are allowed: ``512M``, ``2G`` = ``2Gi`` = 2147483648, ``1.5G``.

Written by hand because check-config must work with only the base install (JupyterHub's
``ByteSpecification`` lives in the hub extra and refuses ``Gi``).
"""

import math
import re

_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGT])I?)?B?$")
_POWER = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


def parse_size(value):
    """``'2G'`` -> 2147483648; ``1024`` -> 1024; ``None`` -> None. ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size like 16G")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{value!r} is not a size like 16G")
        return value
    match = _SIZE.match(str(value).strip().upper())
    if not match:
        raise ValueError(f"{value!r} is not a size like 16G")
    number, unit = match.groups()
    return int(float(number) * 1024 ** _POWER[unit or ""])


BINARY_UNITS = (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))
DECIMAL_UNITS = (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


def format_size(n_bytes, *, decimal=False, decimals=None, bytes_unit="B"):
    """Bytes for people, in the largest unit the size reaches: ``2 GB``, ``1.5 GB``, ``10 bytes``.

    Units are powers of 1024 (as the admin YAML's sizes, Docker's limits and the spawn form
    mean them) or, with ``decimal``, of 1000 (as ``docker images`` counts image sizes).
    ``decimals``: digits after the point; None: as few as the value needs, up to three
    significant digits (``2 GB``, ``1.21 GB``, ``624 MB``). ``bytes_unit``: the word below 1 KB.
    """
    for unit, factor in DECIMAL_UNITS if decimal else BINARY_UNITS:
        if n_bytes >= factor:
            value = n_bytes / factor
            if decimals is not None:
                return f"{value:.{decimals}f} {unit}"
            text = f"{value:.{max(0, 2 - int(math.log10(value)))}f}"
            return f"{text.rstrip('0').rstrip('.') if '.' in text else text} {unit}"
    return f"{n_bytes} {bytes_unit}"
