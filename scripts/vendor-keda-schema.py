"""Write tests/schemas/keda-scaledobject.json: the JSON schema of KEDA's ScaledObject (keda.sh/v1alpha1).

KEDA publishes the schema only as its CRD's openAPIV3Schema; the package cloudcoil-models-keda carries the same
CRD as Pydantic models, pinned to one KEDA release, and is on PyPI. This script exports those models to a
plain JSON schema, made strict the way `kubectl apply --validate=strict` is: an unknown field fails (a typo in a
manifest is otherwise silently dropped by the API server) and no field may be null.

Run it to move to another KEDA release (change KEDA_MODELS, then commit the new file):
    uv run --no-project --with cloudcoil-models-keda==2.16.1.0 python scripts/vendor-keda-schema.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

KEDA_MODELS = "cloudcoil-models-keda"
OUT = Path(__file__).resolve().parents[1] / "tests" / "schemas" / "keda-scaledobject.json"


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items() if key not in ("title", "default")}
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            node.pop("anyOf")
            node.update(kept[0])
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


def main() -> None:
    import cloudcoil.models.keda.v1alpha1 as keda  # type: ignore[import-not-found]

    schema = strict(keda.ScaledObject.model_json_schema(by_alias=True))
    # The models default these; a manifest handed to kubectl must say what it is.
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata", "spec"})
    release = version(KEDA_MODELS)
    schema = {
        "$comment": (
            f"KEDA ScaledObject CRD (keda.sh/v1alpha1) of KEDA {release.rsplit('.', 1)[0]}, from "
            f"{KEDA_MODELS} {release}; Apache-2.0 (KEDA Authors; cloudcoil). "
            "Regenerate with scripts/vendor-keda-schema.py; see tests/schemas/README.md."
        ),
        **schema,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
