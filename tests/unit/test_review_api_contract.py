"""The review API's contract (extensions/review/api_contract.json) against both of its sides.

- The frontend: every ``$defs`` entry the frontend's endpoints reach is declared in
  extensions/labextension/src/api.ts as an interface (or type) of the same name, with the same
  properties, the same optional ones and the same types.
- The server: what the handlers' building blocks answer (gate results, errors, the workspace
  status) is valid against it. The real handlers' answers are validated in
  tests/integration/test_review_api.py, request by request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from jupyterhub_ds.review.errors import ReviewError
from jupyterhub_ds.review.gates import GateResult
from jupyterhub_ds.review.workspace import Workspace

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = json.loads((ROOT / "extensions/review/api_contract.json").read_text())
API_TS = (ROOT / "extensions/labextension/src/api.ts").read_text()


def validator(name):
    schema = {**CONTRACT, "$ref": f"#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema)


# ---- the TypeScript side ------------------------------------------------------------------------


def ts_declarations(text):
    """{name: {property: (type, optional)}} of the interfaces, {name: [literals]} of the union types."""
    interfaces, unions = {}, {}
    for name, parent, body in re.findall(r"export interface (\w+)(?: extends (\w+))? \{(.*?)\n\}", text, re.S):
        props = dict(interfaces.get(parent, {})) if parent else {}
        for prop, optional, ts_type in re.findall(r"^\s+(\w+)(\??): ([^;]+);", body, re.M):
            props[prop] = (" ".join(ts_type.split()), bool(optional))
        interfaces[name] = props
    for name, body in re.findall(r"export type (\w+) =([^;]+);", text):
        unions[name] = re.findall(r"'([^']*)'", body)
    return interfaces, unions


def resolved(node):
    """A schema object with its allOf parents' properties and required keys folded in."""
    props, required = {}, set()
    for parent in node.get("allOf", []):
        base = resolved(CONTRACT["$defs"][parent["$ref"].rsplit("/", 1)[1]])
        props.update(base["properties"])
        required |= set(base["required"])
    props.update(node.get("properties", {}))
    return {"properties": props, "required": required | set(node.get("required", []))}


def ts_type(node):
    """The TypeScript type a schema node stands for."""
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[1]
    if "const" in node or "enum" in node:
        values = [node["const"]] if "const" in node else node["enum"]
        return " | ".join(f"'{v}'" for v in values)
    kind = node["type"]
    if isinstance(kind, list):
        return " | ".join(ts_type({**node, "type": k}) for k in kind)
    if kind == "array":
        return ts_type(node["items"]) + "[]"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}[kind]


def reached(name, seen):
    """The $defs names ``name`` refers to, itself included."""
    if name in seen:
        return seen
    seen.add(name)
    for ref in re.findall(r'"#/\$defs/(\w+)"', json.dumps(CONTRACT["$defs"][name])):
        reached(ref, seen)
    return seen


FRONTEND = sorted(
    set().union(
        *(
            reached(name, set())
            for endpoint in CONTRACT["endpoints"].values()
            if endpoint.get("frontend")
            for name in (endpoint["answer"], endpoint.get("request"))
            if name
        ),
        reached(CONTRACT["errorBody"], set()),
    )
)
INTERFACES, UNIONS = ts_declarations(API_TS)


def test_the_parser_reads_api_ts():
    assert {"ICheckResult", "ISubmitResult", "IStatusMergeRequest"} <= set(INTERFACES) and "GateName" in UNIONS
    assert INTERFACES["IStatusMergeRequest"]["iid"] == ("number", False)  # through `extends`


@pytest.mark.parametrize("name", FRONTEND)
def test_api_ts_declares_what_the_contract_says(name):
    node = CONTRACT["$defs"][name]
    if "enum" in node:
        assert UNIONS.get(name) == node["enum"], f"api.ts: export type {name} = {' | '.join(map(repr, node['enum']))};"
        return
    assert name in INTERFACES, f"api.ts has no `export interface {name}` (api_contract.json $defs.{name})"
    schema = resolved(node)
    expected = {prop: (ts_type(sub), prop not in schema["required"]) for prop, sub in schema["properties"].items()}
    assert INTERFACES[name] == expected, f"api.ts {name} differs from api_contract.json $defs.{name}"


def test_every_interface_of_api_ts_is_in_the_contract():
    assert set(INTERFACES) | set(UNIONS) <= set(CONTRACT["$defs"])


def test_the_contract_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(CONTRACT)
    endpoints = CONTRACT["endpoints"].values()
    names = {e["answer"] for e in endpoints} | {e["request"] for e in endpoints if "request" in e}
    assert names | {CONTRACT["errorBody"]} <= set(CONTRACT["$defs"])


def test_the_contract_refuses_drift():
    """The point of additionalProperties: false: a field the frontend does not know fails."""
    check = {
        "path": "a.ipynb",
        "gates": [],
        "ok": True,
        "repo": {
            "root": "p",
            "project": None,
            "branch": "review/a/x",
            "current_branch": "main",
            "target_branch": "main",
        },
    }
    validator("ICheckResult").validate(check)
    with pytest.raises(jsonschema.ValidationError, match="unexpected"):
        validator("ICheckResult").validate({**check, "surprise": 1})
    with pytest.raises(jsonschema.ValidationError):
        validator("ICheckResult").validate({**check, "repo": {**check["repo"], "target_branch": None}})


# ---- the server side ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ReviewError(400, "the request body is not JSON"),
        ReviewError(422, "1 check failed", [GateResult("secrets", False, ["cell 2: a token"]).to_json()]),
    ],
)
def test_error_bodies_follow_the_contract(error):
    validator(CONTRACT["errorBody"]).validate(error.body())


def test_the_workspace_status_follows_the_contract(tmp_path):
    workspace = Workspace(
        projects=[{"project": "ds/notebooks", "ref": "main"}, {"project": "not a path"}],
        root_dir=tmp_path,
        directory="projects",
        gitlab_url="http://gitlab.invalid",
    )
    status = workspace.status()
    assert status["problems"] and status["projects"]
    validator("IWorkspaceStatus").validate(status)
