"""The admin config file: YAML checked by a JSON Schema, then translated into traitlets config.

``load_config(path, env)`` returns a ``traitlets.config.Config`` or raises one
``AdminConfigError`` listing every problem; ``jupyterhub-ds check-config`` prints the same
lines. The pieces, one idea each:

- ``source``    YAML text -> data plus the line of every key (for messages)
- ``schema``    JSON Schema validation and defaults (``schema.json`` is the documentation)
- ``jupyterhub_ds.sizes``  ``2G`` / ``512M`` / plain bytes -> int bytes
- ``secrets``   secrets found in the YAML; environment variables the hub needs
- ``semantic``  checks a schema cannot express (duplicates, cron, lanes, references)
- ``unsafe``    relaxations of the safe defaults, named by check-config and at hub start
- ``profiles``  the normalized profile dicts the spawner consumes
- ``apply``     one pure ``apply_<section>(section, c)`` per section
- ``loader``    ties them together
"""

from ..sizes import parse_size
from .loader import AdminConfigError, check_file, load_config, unsafe_lines
from .problems import Problem

__all__ = ["AdminConfigError", "Problem", "check_file", "load_config", "parse_size", "unsafe_lines"]
