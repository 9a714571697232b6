"""Runs of equal consecutive keys: the start offsets every grouped (segment-sum, per-group
alias, per-country) kernel walks."""

from __future__ import annotations

import numpy as np


def run_offsets(keys: np.ndarray) -> np.ndarray:
    """Start offsets of runs of equal consecutive keys, plus the end."""
    if keys.shape[0] == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return np.concatenate([starts, [keys.shape[0]]]).astype(np.int64)
