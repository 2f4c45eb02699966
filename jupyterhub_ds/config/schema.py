"""JSON Schema validation of the admin YAML, with one readable line per error.

``schema.json`` (draft 2020-12) is the reference: every object has
``additionalProperties: false`` and every property a ``description``. Where a plain
JSON Schema message would be cryptic, the schema carries an ``x-expected`` text
("a size like 16G") used here to say what the value should look like.
"""

import ast
import copy
import difflib
import json
import re
from importlib.resources import files

import jsonschema

from .problems import Problem, show

SCHEMA = json.loads(files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def resolve(schema):
    """Follow local ``$ref``s ("#/$defs/name"); sibling keys of the ref win."""
    while "$ref" in schema:
        target = SCHEMA
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


# names admins reach for that difflib cannot guess
ALIASES = {
    "memory": "mem_limit",
    "mem": "mem_limit",
    "ram": "mem_limit",
    "cpu": "cpu_limit",
    "cpus": "cpu_limit",
    "gpu": "gpus",
    "name": "display_name",
    "title": "display_name",
    "groups": "allowed_groups",
    "timeout": "start_timeout",
    "tz": "timezone",
}


def closest(word, choices):
    """The obvious intended spelling of ``word`` among ``choices``, or None."""
    if ALIASES.get(str(word).lower()) in choices:
        return ALIASES[str(word).lower()]
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def _expected(error):
    hint = error.schema.get("x-expected") if isinstance(error.schema, dict) else None
    if hint:
        return hint
    types = error.validator_value if error.validator == "type" else error.schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "valid here"


def _problems_for(error, is_secret_key):
    path = tuple(error.absolute_path)
    value = error.instance
    kind = error.validator
    if "propertyNames" in error.relative_schema_path:
        return [
            Problem(
                path,
                f"key {value!r} is not a valid name (letters, digits and _, not starting with a digit)",
                path + (value,),
            )
        ]
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in value:
            if key in allowed or is_secret_key(key):
                continue
            message = f"unknown key {key!r}; allowed keys: {', '.join(allowed)}"
            guess = closest(key, allowed)
            if guess:
                message += f"; did you mean {guess!r}?"
            out.append(Problem(path, message, path + (key,)))
        return out
    if kind == "required":
        match = re.match(r"^(.+?) is a required property$", error.message)
        key = ast.literal_eval(match.group(1)) if match else error.message
        described = resolve(error.schema.get("properties", {}).get(key, {})).get("description", "")
        first_sentence = described.split(". ")[0].rstrip(".")
        return [Problem(path, f"missing required key {key!r}; add it ({first_sentence})")]
    if kind == "type" and value is None and error.validator_value == "object":
        return [Problem(path, "is empty; give its keys or remove the section")]
    if kind == "type" or kind in ("anyOf", "oneOf") or kind == "pattern":
        return [Problem(path, f"{show(value)} is not {_expected(error)}")]
    if kind == "enum":
        choices = error.validator_value
        message = f"{show(value)} is not one of {', '.join(show(c) for c in choices)}"
        guess = closest(value, choices) if isinstance(value, str) else None
        if guess:
            message += f"; did you mean {guess!r}?"
        return [Problem(path, message)]
    if kind == "minimum":
        return [Problem(path, f"{show(value)} is too small; use {error.validator_value} or more")]
    if kind == "maximum":
        return [Problem(path, f"{show(value)} is too large; use {error.validator_value} or less")]
    if kind == "exclusiveMinimum":
        return [Problem(path, f"{show(value)} is too small; use more than {error.validator_value}")]
    if kind == "minItems":
        return [Problem(path, f"is empty; give at least {error.validator_value} item(s)")]
    if kind == "minLength":
        return [Problem(path, "is empty; give a value")]
    if kind == "uniqueItems":
        seen, dup = [], None
        for item in value:
            if item in seen:
                dup = item
                break
            seen.append(item)
        return [Problem(path, f"lists {show(dup)} more than once; remove the duplicate")]
    return [Problem(path, error.message)]


def schema_problems(data, is_secret_key=lambda key: False):
    """Every schema error as Problems, sorted by path. ``is_secret_key`` silences the
    'unknown key' message for keys the secrets check reports better."""
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = []
    for error in errors:
        problems.extend(_problems_for(error, is_secret_key))
    return problems


def _fill(value, schema):
    schema = resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        required = set(schema.get("required", []))
        for key, sub in schema["properties"].items():
            sub_resolved = resolve(sub)
            if key not in value:
                if "default" in sub_resolved:
                    value[key] = copy.deepcopy(sub_resolved["default"])
                elif sub_resolved.get("type") == "object" and key not in required:
                    value[key] = {}
            if key in value:
                _fill(value[key], sub)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _fill(item, schema["items"])
    return value


def with_defaults(data):
    """A deep copy of ``data`` with every schema default filled in (missing sections too).
    jsonschema validates but never fills defaults, hence this small walk."""
    return _fill(copy.deepcopy(data), SCHEMA)
