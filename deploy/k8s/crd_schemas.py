"""Turn CustomResourceDefinitions into the JSON schemas kubeconform reads offline.

    python3 deploy/k8s/crd_schemas.py OUT_DIR CRD.yaml...

Writes OUT_DIR/<group>/<kind>_<version>.json (kubeconform's
`{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`) for every served version. Strict,
as the API server is for structural schemas: an object that lists its properties and neither
preserves unknown fields nor declares additionalProperties rejects a field it does not know,
so a typo in a manifest fails here instead of being pruned silently in the cluster.
Runs with the machine's python3 and PyYAML from the project's venv, or either alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def convert(crd: dict[str, Any], out: Path) -> list[Path]:
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    written = []
    for version in spec["versions"]:
        schema = strict(version["schema"]["openAPIV3Schema"])
        # apiVersion, kind and metadata are checked by Kubernetes itself, not the CRD
        schema.setdefault("properties", {})["metadata"] = {"type": "object"}
        schema["properties"]["apiVersion"] = {
            "type": "string",
            "enum": [f"{group}/{version['name']}"],
        }
        schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
        path = out / group / f"{kind.lower()}_{version['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=1))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    for name in argv[2:]:
        for document in yaml.safe_load_all(Path(name).read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                for path in convert(document, out):
                    print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
