"""Make self-contained kubeconform schemas from kubernetes-validate's "local" ones.

    python3 deploy/k8s/k8s_schemas.py SRC_DIR OUT_DIR kind-file...

kubernetes-validate (PyPI) ships each kind's JSON schema with `$ref`s into a shared
`/api/_definitions.json`, which kubeconform cannot resolve from disk. This copies the
definitions each kind reaches into the kind's own file (`#/$defs/...`), so kubeconform reads one
file per kind, offline. Only the kinds named are written: a manifest of any other kind fails
the check ("could not find schema") until its kind is added to tools.sh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REF_PREFIX = "/api/_definitions.json#/$defs/"
LOCAL_PREFIX = "#/$defs/"


def target(ref: Any) -> str | None:
    """The definition a `$ref` names, whether it points into the shared file or its own."""
    if isinstance(ref, str):
        for prefix in (REF_PREFIX, LOCAL_PREFIX):
            if ref.startswith(prefix):
                return ref.removeprefix(prefix)
    return None


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            name = target(value) if key == "$ref" else None
            if name is not None:
                found.add(name)
            else:
                found |= refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= refs(item)
    return found


def local(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                LOCAL_PREFIX + str(target(value))
                if key == "$ref" and target(value) is not None
                else local(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [local(item) for item in node]
    return node


def main(argv: list[str]) -> int:
    src, out = Path(argv[1]), Path(argv[2])
    definitions = json.loads((src / "_definitions.json").read_text())["$defs"]
    out.mkdir(parents=True, exist_ok=True)
    for name in argv[3:]:
        schema = json.loads((src / f"{name}.json").read_text())
        needed: dict[str, Any] = {}
        todo = refs(schema)
        while todo:
            ref = todo.pop()
            if ref not in needed:
                needed[ref] = definitions[ref]
                todo |= refs(definitions[ref]) - set(needed)
        schema = local(schema)
        schema.pop("$id", None)
        schema["$defs"] = local(needed)
        (out / f"{name}.json").write_text(json.dumps(schema))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
