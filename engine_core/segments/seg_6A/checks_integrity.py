"""6A integrity checks (layer3 §3.8, I01–I09) as functions of arrays: each state runs its
share on what it is about to publish (a failure publishes nothing), and the segment's asset
checks run the same functions on the published tables (every row, no sampling)."""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.segments.seg_6A.base import check_fk, check_ids


def fail(state: str, check: str, detail: str):
    raise EngineError("INTEGRITY_CHECK_FAILED", state, f"{check}: {detail}")


def i01_ids(state: str, dataset_id: str, ids: np.ndarray, *, sorted_=False) -> None:
    """Ids non-zero and unique (and, for a published table, sorted by PK)."""
    check_ids(state, dataset_id, ids)
    if sorted_ and ids.size > 1 and (ids[1:] < ids[:-1]).any():
        fail(state, "6A-I01", f"{dataset_id} is not sorted by its id")


def i02_fk(state: str, what: str, child: np.ndarray, parent_ids: np.ndarray) -> None:
    parent = np.asarray(parent_ids, np.uint64)
    if parent.size > 1 and (parent[1:] < parent[:-1]).any():  # published PKs are sorted
        parent = np.sort(parent)
    check_fk(state, what, np.asarray(child, np.uint64), parent)


def i03_counts(state: str, what: str, realised, plan) -> None:
    r, p = np.asarray(realised), np.asarray(plan)
    if r.shape != p.shape or (r != p).any():
        k = int(np.flatnonzero(r != p)[0]) if r.shape == p.shape else -1
        fail(state, "6A-I03", f"{what}: realised ≠ plan at cell {k}")


def i04_caps(state: str, what: str, counts, caps) -> None:
    c, k = np.asarray(counts), np.asarray(caps)
    bad = c > k
    if bad.any():
        fail(
            state,
            "6A-I04",
            f"{what}: {int(bad.sum())} breaches, e.g. {int(c[bad][0])} > "
            f"{int(np.broadcast_to(k, c.shape)[bad][0])}",
        )


def i05_regions(state, dataset_id, world, region, countries_pol, region_map_pol) -> None:
    by_code = {code: reg for reg, codes in region_map_pol["regions"].items() for code in codes}
    for c in world:
        if region[c] != by_code.get(countries_pol["countries"].get(c)):
            fail(state, "6A-I05", f"{dataset_id}: {c} has region {region[c]}")


def i07_trace(state: str, ledger, expected: dict[str, tuple[int, int]]) -> None:
    """RNG trace totals equal the family draw formulas; event count = cell count."""
    got = ledger.totals()
    for fid, (events, draws) in sorted(expected.items()):
        t = got.get(fid, {"events": 0, "draws": 0})
        if (t["events"], t["draws"]) != (events, draws):
            raise EngineError(
                "RNG_TRACE_MISMATCH",
                state,
                f"6A-I07 {fid}: trace (events {t['events']}, draws {t['draws']}) ≠ formula "
                f"(events {events}, draws {draws})",
            )
