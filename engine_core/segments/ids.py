"""The layer-1 id law (layer1 §0.3): H64 with collision re-derivation, minted in canonical order.

``H64(tag, f1…fk) = BE64(SHA256(UER("fw.l1.id") ‖ UER(tag) ‖ UER(mf) ‖ LE64(seed)
‖ UER(f1) ‖ …)[0:8])``, 0 → 1. An id equal to an earlier one (canonical order) is
re-derived with an extra field "r1", "r2", …; more than 8 retries is
``ID_COLLISION_UNRESOLVED``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from engine_core.errors import EngineError
from engine_core.identity import le64, uer

MAX_RETRIES = 8


def _prefix(tag: str, mf: str, seed: int, domain: str):
    h = hashlib.sha256()
    h.update(uer(domain))
    h.update(uer(tag))
    h.update(uer(mf))
    h.update(le64(int(seed)))
    return h


def _h64(prefix, fields) -> int:
    h = prefix.copy()
    for f in fields:
        h.update(uer(f))
    v = int.from_bytes(h.digest()[:8], "big")
    return v or 1


def mint_ids(
    tag: str,
    mf: str,
    seed: int,
    rows: list[tuple[str, ...]],
    *,
    state: str,
    domain: str = "fw.l1.id",
) -> tuple[np.ndarray, int]:
    """Ids for ``rows`` (field tuples in canonical order). Returns ``(ids, retries)``.
    One hasher copy per row is the only per-row Python loop the law allows."""
    prefix = _prefix(tag, mf, seed, domain)
    ids = np.fromiter((_h64(prefix, r) for r in rows), dtype=np.uint64, count=len(rows))
    _, first = np.unique(ids, return_index=True)
    if first.shape[0] == ids.shape[0]:
        return ids, 0
    seen: set[int] = set()
    retries = 0
    for i, fields in enumerate(rows):  # rare path: walk canonical order, re-derive repeats
        v = int(ids[i])
        t = 0
        while v in seen:
            t += 1
            if t > MAX_RETRIES:
                raise EngineError(
                    "ID_COLLISION_UNRESOLVED",
                    state,
                    f"{tag} id for {fields} collides after {MAX_RETRIES} retries",
                )
            v = _h64(prefix, (*fields, f"r{t}"))
        retries += t
        seen.add(v)
        ids[i] = v
    return ids, retries
