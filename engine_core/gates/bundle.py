"""Validation bundles and HashGate (ARCHITECTURE §6) — one law for every segment.

A bundle directory holds ``index.json`` (every output file of the segment for the
partition, with sha256, sorted by path — relative to the data root), the
``validation_report_<SEG>.json`` and, only on PASS, ``_passed.flag`` =
``{"bundle_digest_sha256": sha256(concatenated hex sha256 values of the index, path order)}``.
HashGate recomputes every file's sha256 and the digest, and compares them with the flag.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine_core.contracts.dictionary import Dictionary
from engine_core.errors import EngineError
from engine_core.io.datasets import json_bytes
from engine_core.io.publish import publish_dir, staging_path
from engine_core.io.verify import sha256_cached

INDEX = "index.json"
FLAG = "_passed.flag"


def report_name(segment: str) -> str:
    return f"validation_report_{segment}.json"


def bundle_digest(entries: list[dict]) -> str:
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e["path"]):
        h.update(e["sha256"].encode("ascii"))
    return h.hexdigest()


def build_bundle(
    dictionary: Dictionary,
    *,
    segment: str,
    bundle_dir: Path,
    data_root: Path,
    files: list[tuple[str, str]],
    checks: list[dict],
    mf: str,
    seed: int | None,
    state: str,
    evidence: dict[str, bytes] | None = None,
) -> tuple[str, str | None, str]:
    """Publish the bundle. ``files`` are ``(relpath to data_root, sha256)``; ``checks`` are
    report rows. Returns ``(status, bundle digest or None)``; on FAIL the report is published
    without a flag and ``VALIDATION_FAILED`` is raised (the report is the evidence). The third
    value is the publish status ("published" or "reused" for an identical rerun)."""
    data_root = Path(data_root)
    bundle_rel = Path(bundle_dir).relative_to(data_root).as_posix()
    checks = sorted(checks, key=lambda c: c["check_id"])
    failed = [c["check_id"] for c in checks if c["status"] == "FAIL" and c["enforced"]]
    status = "FAIL" if failed else "PASS"
    report = {"segment": segment, "manifest_fingerprint": mf, "status": status, "checks": checks}
    if seed is not None:
        report["seed"] = int(seed)
    dictionary.schemas.validate(
        report,
        "gates.yaml#/$defs/validation_report",
        file=report_name(segment),
        code="SCHEMA_VIOLATION",
        state=state,
    )
    report_bytes = json_bytes(report)
    entries = [{"path": p, "sha256": d} for p, d in files]
    evidence = dict(sorted((evidence or {}).items()))
    for name, data in evidence.items():  # evidence files live in the bundle, indexed like data
        entries.append({"path": f"{bundle_rel}/{name}", "sha256": hashlib.sha256(data).hexdigest()})
    entries.append(
        {
            "path": f"{bundle_rel}/{report_name(segment)}",
            "sha256": hashlib.sha256(report_bytes).hexdigest(),
        }
    )
    paths = [e["path"] for e in entries]
    if len(set(paths)) != len(paths):
        raise EngineError("SCHEMA_VIOLATION", state, f"bundle {bundle_rel}: duplicate index paths")
    entries.sort(key=lambda e: e["path"])
    index = {"segment": segment, "manifest_fingerprint": mf, "files": entries}
    if seed is not None:
        index["seed"] = int(seed)
    staged = staging_path(data_root, f"validation_{segment}")
    staged.mkdir()
    (staged / INDEX).write_bytes(json_bytes(index))
    (staged / report_name(segment)).write_bytes(report_bytes)
    for name, data in evidence.items():
        (staged / name).write_bytes(data)
    digest = None
    if status == "PASS":
        digest = bundle_digest(entries)
        (staged / FLAG).write_bytes(json_bytes({"bundle_digest_sha256": digest}))
    published = publish_dir(staged, Path(bundle_dir), state=state)
    if failed:
        raise EngineError("VALIDATION_FAILED", state, f"failed checks: {', '.join(failed)}")
    return status, digest, published


def _load_json(path: Path, state: str, code: str):
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise EngineError(code, state, f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EngineError(
            code, state, f"{path}: not valid JSON ({e.msg if hasattr(e, 'msg') else e})"
        ) from None


def verify_bundle(
    bundle_dir: Path, data_root: Path, *, state: str = "ENGINE", code: str = "HASHGATE_FAILED"
) -> str:
    """HashGate: recompute every indexed file and the digest; return the digest or raise
    ``code`` naming the offending file."""
    bundle_dir, data_root = Path(bundle_dir), Path(data_root)
    flag_path = bundle_dir / FLAG
    if not flag_path.is_file():
        raise EngineError(code, state, f"{flag_path}: missing (segment not validated or failed)")
    flag = _load_json(flag_path, state, code)
    if (
        not isinstance(flag, dict)
        or set(flag) != {"bundle_digest_sha256"}
        or not isinstance(flag["bundle_digest_sha256"], str)
    ):
        raise EngineError(code, state, f"{flag_path}: malformed flag")
    index = _load_json(bundle_dir / INDEX, state, code)
    entries = index.get("files") if isinstance(index, dict) else None
    if (
        not isinstance(entries, list)
        or not entries
        or not all(
            isinstance(e, dict)
            and isinstance(e.get("path"), str)
            and isinstance(e.get("sha256"), str)
            and len(e["sha256"]) == 64
            for e in entries
        )
    ):
        raise EngineError(code, state, f"{bundle_dir / INDEX}: malformed file list")
    # the index itself first: an edited index or flag no longer matches the flag's digest
    digest = bundle_digest(entries)
    if digest != flag["bundle_digest_sha256"]:
        raise EngineError(
            code, state, f"{bundle_dir / INDEX}: does not match {flag_path} (index or flag edited)"
        )
    dirs: dict[Path, set[str]] = {}
    for e in entries:
        path = data_root / e["path"]
        if not path.is_file():
            raise EngineError(
                code, state, f"{path}: indexed file is missing (listed in {bundle_dir / INDEX})"
            )
        if sha256_cached(path) != e["sha256"]:
            raise EngineError(code, state, f"{path}: sha256 differs from the bundle index")
        dirs.setdefault(path.parent, set()).add(path.name)
    for d, names in sorted(dirs.items()):
        if d == bundle_dir:
            continue
        extra = sorted(p.name for p in d.iterdir() if p.is_file() and p.name not in names)
        if extra:
            raise EngineError(code, state, f"{d / extra[0]}: file not in the bundle index")
    return digest
