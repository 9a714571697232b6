"""6B.S2 planning mechanics shared by the typologies (layer3 §4.3 steps 2–3): per-campaign
plan words (``6B.S2.plan``, 8 blocks), per-target words (``6B.S2.target``, 2 blocks) and
per-slot words (``6B.S2.txn``, 6 blocks = 12 slots, the §4.3 slot layout), the word → value
laws, and ``Book``, which collects campaigns, targets and slots in canonical order.

Campaigns of a typology are generated until its ``F_t`` fraud slots exist; the last one is
truncated. Plan words are computed for a generous batch of ordinals (counter-addressed, so
the batch size never changes a value) and only the campaigns kept are traced."""

from __future__ import annotations

import numpy as np

from engine_core.identity import entity_ids_at, id_keys
from engine_core.rng.alias import build_alias_table
from engine_core.rng.samplers import as241, nb2
from engine_core.rng.uniform import uniform01

STATE = "6B.S2"
STAGES = (
    "CARD_TEST",
    "CNP_SPREE",
    "COMPROMISE",
    "CP_CASHOUT",
    "ATO_TRANSFER",
    "ATO_PURCHASE",
    "MULE_INBOUND",
    "MULE_LAYERING",
    "MULE_CASHOUT",
    "BUSTOUT_SPEND",
    "BUSTOUT_CASH",
    "COLLUSION_SALE",
    "COLLUSION_REFUND",
)
CONVERT, INJECT = 0, 1
PATTERNS = ("FAN_IN", "FAN_OUT", "CHAIN", "SCATTER_GATHER")
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
# slot layout of 6B.S2.txn (§4.3 step 3)
S_TIME, S_TARGET, S_DEV_SRC, S_DEV, S_IP, S_AMOUNT = 0, 1, 2, 3, 4, 5
S_APPROVE, S_CODE, S_ENTRY, S_AUTH, S_CELL, S_EDGE = 6, 7, 8, 9, 10, 11
SLOT_KEYS = (
    "typ",
    "camp",
    "j",
    "cluster",
    "mode",
    "stage",
    "ts",
    "type",
    "dir",
    "channel",
    "entry",
    "auth",
    "code",
    "ok",
    "party",
    "account",
    "inst",
    "dev",
    "ip",
    "m",
    "site",
    "edge",
    "term",
    "usd",
    "z",
    "lift",
    "cp_account",
    "cp_country",
    "parent_j",
    "cc_mode",
    "cc_country",
    "gmask",
    "cell_word",
)


def u01(words) -> np.ndarray:
    return uniform01(np.asarray(words, np.uint64))


def lognormal(words, median, sigma) -> np.ndarray:
    return np.exp(np.log(median) + sigma * as241(u01(words)))


def nb_count(w0, w1, mean, k, lo=1, hi=None) -> np.ndarray:
    n = nb2(w0, w1, np.full(np.size(w0), float(mean)), np.full(np.size(w0), float(k)))
    n = np.maximum(np.asarray(n, np.int64), lo)
    return n if hi is None else np.minimum(n, hi)


def uniform_int(words, lo, hi) -> np.ndarray:
    """Integers in ``[lo, hi]`` (inclusive) from one word each."""
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    span = np.maximum(hi - lo + 1, 1)
    return lo + np.minimum((u01(words) * span).astype(np.int64), span - 1)


def cdf_pick(words, probs: dict, keys) -> np.ndarray:
    """Index into ``keys`` by the cumulative ``probs`` (missing keys have mass 0)."""
    p = np.array([float(probs.get(k, 0.0)) for k in keys])
    c = np.cumsum(p / p.sum())
    c[-1] = 1.0
    return np.minimum(np.searchsorted(c, u01(words), side="right"), len(keys) - 1)


def alias_pick(weights, keys, words) -> np.ndarray:
    """ALIAS over ``weights`` (slots in ``keys`` order); positions into the inputs."""
    t = build_alias_table(keys, weights, state=STATE)
    return t.order[t.pick(np.asarray(words, np.uint64))]


def member(words, ptr, items, group) -> np.ndarray:
    """A uniform member of ``group``'s CSR range (−1 where empty)."""
    lo, hi = ptr[group], ptr[group + 1]
    k = np.minimum((u01(words) * (hi - lo)).astype(np.int64), np.maximum(hi - lo - 1, 0))
    return np.where(hi > lo, items[np.minimum(lo + k, max(items.size - 1, 0))], -1)


def window(words, lo, hi) -> np.ndarray:
    """Instants uniform in ``[lo, hi)`` µs (hi > lo)."""
    lo = np.asarray(lo, np.int64)
    span = np.maximum(np.asarray(hi, np.int64) - lo, 1)
    return lo + np.minimum((u01(words) * span).astype(np.int64), span - 1)


def campaign_key(typ: int, ordinal) -> np.ndarray:
    return np.uint64(typ) * np.uint64(1 << 24) + np.asarray(ordinal, np.uint64)


class Book:
    """Campaigns, targets and slots of every typology, appended in canonical order."""

    def __init__(self, ctx, rng):
        self.ctx, self.rng = ctx, rng
        self.camps: list[dict] = []
        self.targets: list[dict] = []
        self.slots: list[dict] = []
        self.rebinds: list[dict] = []  # compromise-visit demands (REBIND, not fraud)
        self.n_camps = 0
        self.slots_drawn = 0
        self._plan = rng.family("plan")
        self._target = rng.family("target")
        self._txn = rng.family("txn")

    # --- words --------------------------------------------------------------------------
    def plan_words(self, typology: str, n: int) -> np.ndarray:
        return self._plan.words(self._plan.stream(typology), 0, n, 8)

    def trace_plan(self, typology: str, n: int) -> None:
        if n:
            self._plan.trace(self._plan.stream(typology), blocks=8 * n, draws=16 * n)

    def _keys(self, typology, ordinals):
        return [f"{typology}|{int(o)}" for o in ordinals]

    def target_words(self, typology: str, ordinals, counts) -> np.ndarray:
        return self._target.cells(self._keys(typology, ordinals), counts, 2)

    def slot_words(self, typology: str, ordinals, counts) -> np.ndarray:
        self.slots_drawn += int(np.sum(counts))
        return self._txn.cells(self._keys(typology, ordinals), counts, 6)

    def extra_slot_words(self, typology: str, ordinal: int, first: int, k: int, trace=True):
        """``k`` more slot units of one campaign after its first ``first`` (budget settling),
        traced as their own event."""
        stream = self._txn.stream(f"{typology}|{ordinal}")
        if trace:
            self._txn.trace(stream, blocks=6 * (first + k), draws=12 * k)
            self.slots_drawn += k
        return self._txn.words(stream, first, k, 6)

    # --- rows ---------------------------------------------------------------------------
    def add_campaigns(self, typ: int, n: int, **cols) -> np.ndarray:
        """Register ``n`` campaigns of typology ``typ`` (ordinals 0..n−1); their global rows."""
        rows = self.n_camps + np.arange(n, dtype=np.int64)
        base = {"typ": np.full(n, typ), "ordinal": np.arange(n, dtype=np.int64), "row": rows}
        none = np.full(n, -1, np.int64)
        for k in ("ring", "actor_party", "actor_merchant", "site", "parent", "pattern"):
            base[k] = np.asarray(cols.pop(k, none), np.int64)
        base.update({k: np.asarray(v) for k, v in cols.items()})
        self.camps.append(base)
        self.n_camps += n
        return rows

    def add_targets(self, camp, kind: str, ids, role: str) -> None:
        camp = np.asarray(camp, np.int64)
        self.targets.append(
            {
                "camp": camp,
                "kind": np.full(camp.size, kind, object),
                "id": np.asarray(ids, np.uint64),
                "role": np.full(camp.size, role, object),
            }
        )

    def add_slots(self, cols: dict) -> None:
        n = np.asarray(cols["camp"]).size
        full = {}
        for k in SLOT_KEYS:
            v = cols.get(k, _DEFAULTS.get(k, -1))
            full[k] = np.broadcast_to(np.asarray(v), (n,)).astype(_DTYPES.get(k, np.int64))
        self.slots.append(full)

    def campaign_ids(self, typ, ordinal) -> np.ndarray:
        keys = id_keys(self.ctx.mf, self.ctx.seed, "campaign", self.ctx.scenario_id or "")
        return entity_ids_at(keys, campaign_key(typ, ordinal))


_DTYPES = {
    "cell_word": np.uint64,
    "dev": np.uint64,
    "usd": np.float64,
    "z": np.float64,
    "lift": np.float64,
    "ok": np.bool_,
}
_DEFAULTS = {
    "z": 0.0,
    "lift": 0.0,
    "usd": -1.0,
    "cc_mode": 0,
    "gmask": 0,
    "cell_word": 0,
    "ok": True,
    "code": 0,
    "auth": 0,
    "dir": 0,
    "cluster": 0,
    "parent_j": -1,
}


def cut(counts: np.ndarray, budget: int) -> tuple[int, np.ndarray]:
    """Campaigns kept until ``budget`` slots exist and their slot counts (the last one
    truncated)."""
    c = np.cumsum(counts)
    n = int(np.searchsorted(c, budget, side="left")) + 1
    n = min(n, counts.size)
    kept = counts[:n].copy()
    over = int(kept.sum()) - budget
    if over > 0:
        kept[-1] -= over
    return n, kept


def batch_size(budget: int, mean_slots: float) -> int:
    return int(budget / max(mean_slots, 1.0) * 2 + 16)


def grow(book: Book, typology: str, budget: int, mean_slots: float, counts_fn):
    """Plan words for enough campaigns that their slots reach ``budget``.

    ``counts_fn(P)`` maps plan words ``(n, 16)`` to ``(n_targets per campaign, slots per
    target)`` (untraced target draws). Returns ``(P, n_targets, slots per target, kept)``
    restricted to the campaigns kept, the last one truncated (its empty targets dropped)."""
    n = batch_size(budget, mean_slots)
    while True:
        P = book.plan_words(typology, n)
        n_t, per_t = counts_fn(P)
        total = int(per_t.sum())
        if total >= budget or n >= 1 << 22:
            break
        n *= 2
    if budget <= 0:
        return P[:0], n_t[:0], per_t[:0], 0
    owner = np.repeat(np.arange(n_t.size), n_t)
    per_c = np.bincount(owner, per_t, n_t.size).astype(np.int64)
    kept, slots_c = cut(per_c, min(budget, total))
    # truncate the last campaign's targets from the end
    t_end = int(n_t[:kept].sum())
    per_t = per_t[:t_end].copy()
    over = int(per_t.sum()) - int(slots_c.sum())
    i = per_t.size - 1
    while over > 0:  # at most one campaign's targets (a few hundred)
        d = min(over, int(per_t[i]))
        per_t[i] -= d
        over -= d
        i -= 1
    n_t = n_t[:kept].copy()
    first = np.concatenate([[0], np.cumsum(n_t)])
    last_targets = per_t[first[-2] :] if kept else per_t[:0]
    # drop only the trailing targets truncation emptied (a target may have 0 slots of its
    # own, e.g. an ATO victim without handle or card: it stays, aligned with the pool)
    nz = np.flatnonzero(last_targets > 0)
    keep_last = int(nz[-1]) + 1 if nz.size else 0
    n_t[-1] = keep_last if kept else 0
    per_t = np.concatenate([per_t[: first[-2]], last_targets[:keep_last]])
    book.trace_plan(typology, kept)
    return P[:kept], n_t, per_t, kept
