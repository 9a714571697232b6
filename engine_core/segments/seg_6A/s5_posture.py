"""6A.S5 fraud posture: the prevalence law and the assigned roles (layer3 §3.6 steps 1–6).

Prevalence law per role: eligible set E in cells, world target
``T = min(|E|, max(round_half_even(prevalence·|E|), min_count))`` (per party type where the
policy says so), cell targets ``T_c`` = the integerisation of ``T · n_c·Π tilts_c / Σ``
capped at ``n_c`` (water-filled), members ``EXACT_SUBSET(T_c, w)``. Raises and cuts are
state metrics.
The integerisation is layer 1's SYS (one uniform from ``6A.S5.target_tb``), not the LRR of
layer3 §3.6: role cells are fine (country × type × segment × tenure band) and most quotas
are below 1, where LRR hands every leftover unit to the largest quotas — a deterministic
bias toward the highest-tilt cells that 6A-R12 (correctly) fails on small.
"""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.alloc import exact_subset_cells, sys_capped
from engine_core.kernels.sorting import lex_order
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import power, round_half_even

STATE = "6A.S5"


class Posture:
    """Targets and realised counts per (role, cell) — the posture summary."""

    def __init__(self, rng, pol):
        self.rng, self.pol = rng, pol
        self.rows: list[tuple[str, str, int, int, int]] = []
        self.metrics: dict[str, int] = {}
        self.expect: dict = {}

    def min_count(self, role: str) -> int:
        spec = self.pol["prevalence"].get(role)
        if isinstance(spec, dict) and "min_count" in spec:
            return int(spec["min_count"])
        return int(self.pol["min_count_default"])

    def assign(
        self, role, cell_keys, cell_of, tilt_of_cell, w, prevalence, groups=None, target=None
    ):
        """Members of ``role`` among eligible entities (rows in canonical order, ``cell_of``
        their cell index into ``cell_keys``). ``groups`` (per cell) splits the world target
        by party type: ``{group: prevalence}``. Returns the chosen eligible positions."""
        n_cells = len(cell_keys)
        n_c = np.bincount(cell_of, minlength=n_cells)
        # canonical order inside a cell kept; < 2^16 cells sort as uint16 (radix, O(n))
        small = np.uint16 if n_cells <= np.iinfo(np.uint16).max else np.int64
        order = np.argsort(np.asarray(cell_of).astype(small), kind="stable")
        start = np.r_[0, np.cumsum(n_c)]
        tb = uniform01(self.rng.family("target_tb").units(role, n_cells, 1)[:, 0])
        base.count(self.expect, "6A.S5.target_tb", 1, 2 * n_cells)
        x = n_c * np.asarray(tilt_of_cell, np.float64)
        t_c = np.zeros(n_cells, np.int64)
        for g, prev in (groups or {None: prevalence}).items():
            m = (
                np.ones(n_cells, bool)
                if g is None
                else np.array([k.split("|")[1] == g for k in cell_keys], bool)
            )
            e = int(n_c[m].sum())
            want = round_half_even(prev * e) if target is None else int(target)
            t = min(e, max(want, self.min_count(role))) if target is None else min(e, want)
            self.metrics[f"{role}{'' if g is None else '|' + g}_raise"] = t - want
            if t:
                # SYS, not LRR: with sub-unit cell quotas LRR gives every leftover unit to
                # the highest-tilt cells and inflates the tilt ratios 6A-R12 measures
                t_c[m] = sys_capped(t, x[m], n_c[m], float(tb[m][0]), state=STATE, where=role)
        keys = [f"{role}|{k}" for k in cell_keys]
        u = uniform01(self.rng.family("select").cells(keys, n_c, 1))[:, 0]
        base.count(self.expect, "6A.S5.select", int((n_c > 0).sum()), 2 * int(n_c.sum()))
        # every cell at once: infeasible cells first (named), then the batched subsets
        w_c = np.asarray(w, np.float64)[order]
        pos_w = np.r_[0, np.cumsum(w_c > 0)]
        bad = np.flatnonzero(t_c > pos_w[start[1:]] - pos_w[start[:-1]])
        if bad.size:
            c = int(bad[0])
            raise EngineError(
                "ROLE_TARGET_INFEASIBLE",
                STATE,
                f"{keys[c]}: target {int(t_c[c])} exceeds the eligible entities with weight > 0",
            )
        pos, _ = exact_subset_cells(t_c, w_c, u, start, workers=self.rng.workers)
        picked = order[pos]
        chosen = picked[lex_order(np.repeat(np.arange(n_cells), t_c), picked)]  # cell, row
        for c in range(n_cells):
            real = int(t_c[c])
            self.rows.append((role, cell_keys[c], int(n_c[c]), int(t_c[c]), real))
        return chosen


def cells_from(*codes) -> tuple[list, np.ndarray]:
    """Cell index per row from parallel columns (string arrays or ``base.Coded``), cells
    sorted by their ``a|b|…`` key. Rows are grouped by integer codes; strings are built per
    cell only."""
    n = codes[0].size if codes else 0
    combo = np.zeros(n, np.int64)
    vocabs = []
    for c in codes:
        u, inv = base.codes_and_vocab(c)
        vocabs.append(u)
        combo = combo * max(len(u), 1) + inv
    span = int(np.prod([max(len(v), 1) for v in vocabs], dtype=np.float64))
    if span <= 1 << 22:  # dense combos: present cells by counting, not by sorting rows
        present = np.bincount(combo, minlength=span) > 0
        uc = np.flatnonzero(present)
        cinv = (np.cumsum(present) - 1)[combo]
    else:
        uc, cinv = np.unique(combo, return_inverse=True)
    labels = []
    for k in uc.tolist():  # one label per cell (the key order of the joined strings)
        parts = []
        for v in reversed(vocabs):
            k, r = divmod(k, max(len(v), 1))
            parts.append(v[r])
        labels.append("|".join(reversed(parts)))
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), np.int64)
    rank[order] = np.arange(len(labels))
    return [labels[i] for i in order], rank[cinv.reshape(-1)]


def tilt(pol, role, dims: dict[str, np.ndarray]) -> np.ndarray:
    """Π of the role's tilts over the named dimensions (and its region multiplier)."""
    t = pol["tilts"].get(role, {})
    out = None
    for dim, vals in dims.items():
        table = pol["tilts"]["region"].get(role, {}) if dim == "region" else t.get(dim, {})
        u, inv = base.codes_and_vocab(vals)
        f = np.array([table.get(v, 1.0) for v in u], np.float64)[inv]
        out = f if out is None else out * f
    return out


def cell_tilts(pol, role, keys, cell_of, dims: dict[str, np.ndarray]) -> np.ndarray:
    """Per cell, the tilt of its first member's dimension values (members of a cell share
    them by construction)."""
    first = np.full(len(keys), -1, np.int64)
    idx = np.arange(cell_of.size)[::-1]
    first[cell_of[idx]] = idx
    rep = {k: v[np.maximum(first, 0)] for k, v in dims.items()}
    return tilt(pol, role, rep) if dims else np.ones(len(keys))


def party_roles(post, pol, p):
    """SYNTHETIC_IDENTITY then MULE (exclusive) over parties in (country, party type,
    segment, tenure band) cells; tilts by segment, tenure band and region."""
    dims = {"segment": p["seg"], "tenure_band": p["band"], "region": p["region"]}
    keys, cell = cells_from(p["country"], p["ptype"], p["seg"], p["band"])
    syn = post.assign(
        "SYNTHETIC_IDENTITY",
        keys,
        cell,
        cell_tilts(pol, "SYNTHETIC_IDENTITY", keys, cell, dims),
        np.ones(cell.size),
        None,
        groups=pol["prevalence"]["SYNTHETIC_IDENTITY"],
    )
    clean = np.ones(cell.size, bool)
    clean[syn] = False
    rows = np.flatnonzero(clean)
    keys2, cell2 = cells_from(*(p[k][rows] for k in ("country", "ptype", "seg", "band")))
    sub = {k: v[rows] for k, v in dims.items()}
    mule = rows[
        post.assign(
            "MULE",
            keys2,
            cell2,
            cell_tilts(pol, "MULE", keys2, cell2, sub),
            power(p["cnp"][rows], 0.3),
            None,
            groups=pol["prevalence"]["MULE"],
        )
    ]
    return syn, mule
