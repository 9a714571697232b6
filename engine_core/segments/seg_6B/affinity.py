"""The region affinity of ``attachment_6B`` (layer3 §4.2): ``same_region`` on the diagonal,
``pairs`` (symmetric, "A-B") where listed, ``default`` elsewhere, each row renormalised to
sum to one. It weighs trip destinations, cross-border CNP origins and transfer corridors."""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError

STATE = "6B.S1"


def affinity_matrix(pol: dict, regions: list[str]) -> np.ndarray:
    aff = pol["affinity"]
    idx = {r: i for i, r in enumerate(regions)}
    n = len(regions)
    a = np.full((n, n), float(aff["default"]))
    np.fill_diagonal(a, float(aff["same_region"]))
    for pair, v in sorted(aff.get("pairs", {}).items()):
        left, _, right = pair.partition("-")
        if left not in idx or right not in idx:
            continue  # a region with no country in this world
        if left == right:
            raise EngineError(
                "POLICY_INVALID", STATE, f"policies/6B/attachment.yaml: /affinity/pairs/{pair}"
            )
        a[idx[left], idx[right]] = a[idx[right], idx[left]] = float(v)
    return a / a.sum(axis=1, keepdims=True)
