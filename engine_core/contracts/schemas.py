"""JSON Schema 2020-12 packs under ``contracts/schemas`` with cross-file ``$ref`` resolution.

Every file carries ``$id: https://fwe.invalid/schemas/<relpath>``, so a relative ref such as
``defs.yaml#/$defs/hex64`` or ``../defs.yaml#/$defs/iso2`` resolves through one
:class:`referencing.Registry` built from the files on disk (no network, ever).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import jsonschema
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine_core.errors import EngineError

BASE_URI = "https://fwe.invalid/schemas/"


def _pointer_escape(part) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def json_pointer(path) -> str:
    return "".join("/" + _pointer_escape(p) for p in path)


def error_pointer(err: jsonschema.ValidationError) -> str:
    """Pointer of the offending field; for a missing required field, the field itself."""
    path = list(err.absolute_path)
    if err.validator == "required":
        missing = [r for r in err.validator_value if r not in (err.instance or {})]
        if missing:
            path.append(missing[0])
    elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            path.append(extra[0])
    elif "propertyNames" in err.absolute_schema_path and isinstance(err.instance, str):
        path.append(err.instance)  # a key outside a map's vocabulary: point at the key
    return json_pointer(path) or "/"


def load_yaml(path: Path, *, code: str = "POLICY_INVALID", state: str = "ENGINE", rel=None):
    rel = rel or str(path)
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise EngineError(code, state, f"{rel}: file not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "malformed YAML"
        raise EngineError(code, state, f"{rel}:{where}: {problem}") from None


class SchemaRegistry:
    """All schema files under one root, addressable as ``<relpath>#<fragment>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        resources = []
        for p in sorted(self.root.rglob("*.yaml")):
            rel = p.relative_to(self.root).as_posix()
            doc = load_yaml(p, code="CONTRACT_INVALID", rel=f"contracts/schemas/{rel}")
            want = BASE_URI + rel
            if not isinstance(doc, dict) or doc.get("$id") != want:
                raise EngineError(
                    "CONTRACT_INVALID", detail=f"contracts/schemas/{rel}: /$id must be {want}"
                )
            resources.append((want, Resource(contents=doc, specification=DRAFT202012)))
        self.registry = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}

    @cached_property
    def files(self) -> list[Path]:
        return sorted(self.root.rglob("*.yaml"))

    def resolve(self, ref: str) -> dict:
        """The schema object a ref points to (for arrow mapping)."""
        resolver = self.registry.resolver(base_uri=BASE_URI)
        return resolver.lookup(BASE_URI + ref if "://" not in ref else ref).contents

    def validator(self, ref: str) -> Draft202012Validator:
        if ref not in self._validators:
            uri = BASE_URI + ref
            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": uri}
            self._validators[ref] = Draft202012Validator(
                schema,
                registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
        return self._validators[ref]

    def validate(self, doc, ref: str, *, file: str, code: str, state: str = "ENGINE") -> None:
        """Raise ``EngineError(code)`` naming ``file`` and the JSON pointer of the worst error."""
        try:
            err = jsonschema.exceptions.best_match(self.validator(ref).iter_errors(doc))
        except jsonschema.exceptions.RefResolutionError as e:  # pragma: no cover - contract bug
            raise EngineError("CONTRACT_INVALID", state, f"{ref}: {e}") from None
        except Exception as e:  # unresolvable ref in a schema file
            if type(e).__module__.startswith("referencing"):
                raise EngineError("CONTRACT_INVALID", state, f"{ref}: {e}") from None
            raise
        if err is not None:
            raise EngineError(code, state, f"{file}: {error_pointer(err)}: {err.message}")
