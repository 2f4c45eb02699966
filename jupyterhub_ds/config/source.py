"""Read the admin YAML and remember on which line every key and list item is.

PyYAML's SafeLoader builds plain data; we walk the composed node tree alongside it to map
each path (``("profiles", 2, "mem_limit")``) to the 1-based line of its key, so every
message can say ``file:line``. Duplicate keys, which PyYAML would silently collapse, are
reported here.
"""

from dataclasses import dataclass, field

import yaml

from .problems import Problem


class ConfigSourceError(Exception):
    """The file cannot be read or is not YAML; ``str()`` is the one line to print."""


@dataclass
class Source:
    name: str
    data: object
    lines: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)


def _walk(node, path, lines, problems):
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key_node.tag == "tag:yaml.org,2002:int":
                try:
                    key = int(key)
                except ValueError:
                    pass
            if key in seen:
                problems.append(
                    Problem(
                        path,
                        f"duplicate key {key!r} (first on line {seen[key]}); YAML keeps only the last one, merge them",
                        line=key_node.start_mark.line + 1,
                    )
                )
            # PyYAML keeps the last value of a duplicated key, so its lines win too
            seen.setdefault(key, key_node.start_mark.line + 1)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault(path + (index,), item.start_mark.line + 1)
            _walk(item, path + (index,), lines, problems)


def parse_yaml(text, name):
    """YAML text -> ``Source``; raises ``ConfigSourceError`` with line and column on bad syntax."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        what = err.problem or err.context or "invalid YAML"
        fix = "indent with spaces, not tabs" if "'\\t'" in what else "fix the YAML syntax there"
        raise ConfigSourceError(f"{where}: YAML syntax error: {what}; {fix}") from err
    except yaml.YAMLError as err:
        raise ConfigSourceError(f"{name}: YAML syntax error: {err}") from err
    finally:
        loader.dispose()
    lines = {(): 1}
    problems = []
    if node is not None:
        _walk(node, (), lines, problems)
    return Source(name=name, data=data, lines=lines, problems=problems)


def read_source(path, name=None):
    """Read and parse ``path``; ``name`` is how messages refer to it (default: ``path``)."""
    name = name or str(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigSourceError(f"{name}: no such file; give the path of the admin YAML") from None
    except IsADirectoryError:
        raise ConfigSourceError(f"{name}: is a directory; give the path of the admin YAML file") from None
    except PermissionError:
        raise ConfigSourceError(f"{name}: permission denied; make it readable by the hub's user") from None
    except UnicodeDecodeError as err:
        raise ConfigSourceError(
            f"{name}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigSourceError(f"{name}: cannot read: {err.strerror}") from None
    return parse_yaml(text, name)
