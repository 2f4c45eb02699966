"""Memory and file sizes in the admin YAML.

One rule everywhere (profiles, review limits): a plain integer is bytes; a number with a
unit K, M, G or T is a power of 1024 (as JupyterHub's ``mem_limit`` and Docker read them),
``Ki``/``Mi``/``Gi``/``Ti`` mean the same, an optional trailing ``B`` is ignored and
fractions are allowed: ``512M``, ``2G`` = ``2Gi`` = 2147483648, ``1.5G``.

Written by hand because check-config must work with only the base install (JupyterHub's
``ByteSpecification`` lives in the hub extra and refuses ``Gi``).
"""

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
