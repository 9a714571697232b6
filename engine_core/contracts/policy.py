"""Policy loading: YAML file → profile overrides (JSON pointers) → schema validation.

Errors are one line naming the file and the JSON pointer of the offending field
(ARCHITECTURE §9), e.g. ``ENGINE.POLICY_INVALID: policies/world/horizon.yaml:
/tz_cache_margin_days: 'x' is not of type 'integer'``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from engine_core.contracts.dictionary import Dictionary
from engine_core.contracts.schemas import load_yaml
from engine_core.errors import EngineError

PROFILE_SCHEMA = "policies/profile.yaml"
PROFILES = ("tiny", "small", "reference", "large")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def set_pointer(doc, pointer: str, value, *, file: str, state: str = "ENGINE"):
    """Replace the value at an existing JSON pointer (overrides never invent fields)."""
    if not pointer.startswith("/"):
        raise EngineError("POLICY_INVALID", state, f"{file}: {pointer!r} is not a JSON pointer")
    tokens = [_unescape(t) for t in pointer[1:].split("/")]
    node = doc
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(node, dict) and tok in node:
            if last:
                node[tok] = value
            else:
                node = node[tok]
        elif isinstance(node, list) and tok.isdigit() and int(tok) < len(node):
            if last:
                node[int(tok)] = value
            else:
                node = node[int(tok)]
        else:
            raise EngineError(
                "POLICY_INVALID", state, f"{file}: {pointer}: overrides a field the policy lacks"
            )
    return doc


@dataclass(frozen=True)
class Profile:
    profile_id: str
    path: Path
    raw: bytes
    overrides: dict


def load_profile(name: str, dictionary: Dictionary, policies_root: Path) -> Profile:
    if name not in PROFILES:
        raise EngineError(
            "USAGE", detail=f"unknown profile {name!r} (one of {', '.join(PROFILES)})"
        )
    path = Path(policies_root) / "profiles" / f"{name}.yaml"
    rel = f"policies/profiles/{name}.yaml"
    doc = load_yaml(path, rel=rel)
    dictionary.schemas.validate(doc, PROFILE_SCHEMA, file=rel, code="POLICY_INVALID")
    if doc["profile_id"] != name:
        raise EngineError("POLICY_INVALID", detail=f"{rel}: /profile_id: must be {name!r}")
    unknown = sorted(set(doc["overrides"]) - set(dictionary.policies))
    if unknown:
        raise EngineError(
            "POLICY_INVALID", detail=f"{rel}: /overrides/{unknown[0]}: not a known policy"
        )
    return Profile(name, path, path.read_bytes(), doc["overrides"])


def load_policy(
    logical_name: str,
    dictionary: Dictionary,
    policies_root: Path,
    profile: Profile | None = None,
    state: str = "ENGINE",
) -> dict:
    """The validated policy document with the profile's overrides applied."""
    spec = dictionary.policy(logical_name)
    path = Path(policies_root).parent / spec.path
    doc = load_yaml(path, state=state, rel=spec.path)
    if profile is not None and logical_name in profile.overrides:
        doc = copy.deepcopy(doc)
        where = f"{spec.path} (overridden by policies/profiles/{profile.profile_id}.yaml)"
        for pointer, value in profile.overrides[logical_name].items():
            set_pointer(doc, pointer, value, file=where, state=state)
    else:
        where = spec.path
    dictionary.schemas.validate(
        doc, spec.schema_ref, file=where, code="POLICY_INVALID", state=state
    )
    return doc
