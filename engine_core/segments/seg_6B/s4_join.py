"""6B.S4 kernels (layer3 §4.5), arrays in and arrays out so each is testable without a
world: the time split and label cutoffs, sorted-query joins against 6A id arrays, the
projection to the whitelist, the as-of label views and the observable edge keys."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.errors import EngineError
from engine_core.kernels.lookup import SortedIndex
from engine_core.segments.seg_6B.s4_sort import unique_u64

STATE = "6B.S4"
SPLITS = ("TRAIN", "VALID", "TEST")
DAY_US = 86_400_000_000
# §4.5 whitelist in spec order: the contract must equal it, so a column added to the
# contract alone (a role, a label) fails here rather than leaking into the export
WHITELIST = (
    "txn_id", "ts_utc", "ts_local", "tzid", "txn_type", "direction", "channel",
    "pos_entry_mode", "cnp_auth_method", "merchant_id", "mcc", "merchant_country_iso",
    "site_id", "terminal_id", "amount", "currency", "amount_usd", "account_currency",
    "is_cross_border", "auth_response_code", "is_approved", "party_id", "party_type",
    "segment_id", "customer_country_iso", "customer_tenure_days", "account_id",
    "account_type", "account_age_days", "instrument_id", "instrument_type", "card_scheme",
    "bin6", "card_tier", "card_age_days", "device_id", "device_type", "os_family", "ip_id",
    "ip_type", "ip_asn_id", "ip_country_iso", "counterparty_account_id",
    "counterparty_country_iso", "split",
)  # fmt: skip
# edge vocabularies; codes follow string order so integer sorts equal the PK's string sort
EDGE_TYPES = ("ACCOUNT_PARTY", "CARD_ACCOUNT", "DEVICE_ACCOUNT", "DEVICE_CARD", "DEVICE_IP")
SRC_KINDS = ("ACCOUNT", "CARD", "DEVICE")
DST_KINDS = ("ACCOUNT", "CARD", "IP", "PARTY")
EDGE_SRC = np.array([0, 1, 2, 2, 2], np.int8)  # edge type → src kind code
EDGE_DST = np.array([3, 0, 0, 1, 2], np.int8)  # edge type → dst kind code


# --- split and cutoffs --------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Boundaries and cutoffs in epoch seconds: TRAIN = [h0, b1), VALID = [b1, b2),
    TEST = [b2, h_end); cutoffs b1, b2 and ``final``."""

    h0: int
    b1: int
    b2: int
    h_end: int
    final: int

    @property
    def edges_us(self) -> np.ndarray:
        return np.array([self.h0, self.b1, self.b2, self.h_end], np.int64) * 1_000_000

    @property
    def cutoffs_us(self) -> tuple[int, int, int]:
        return self.b1 * 1_000_000, self.b2 * 1_000_000, self.final * 1_000_000


def split_bounds(h0: int, h_end: int, train_frac, valid_end_frac, maturity_days) -> Split:
    """Boundaries floored to the whole second (the manifest's resolution), computed in exact
    rational arithmetic from the policy's decimal fractions (0.65·H has no float error)."""
    if not 0 < train_frac < valid_end_frac < 1 or h_end <= h0:
        raise EngineError(
            "POLICY_INVALID",
            STATE,
            f"ml_export_6B: need 0 < train_frac ({train_frac}) < valid_end_frac "
            f"({valid_end_frac}) < 1 over a non-empty horizon",
        )
    span = h_end - h0
    b1 = h0 + math.floor(Fraction(repr(train_frac)) * span)
    b2 = h0 + math.floor(Fraction(repr(valid_end_frac)) * span)
    return Split(h0, b1, b2, h_end, h_end + int(maturity_days) * 86_400)


def assign_split(ts_us: np.ndarray, split: Split) -> np.ndarray:
    """Split code (0 TRAIN, 1 VALID, 2 TEST) of each ``ts_utc``; SPLIT_GAP outside
    ``[h0, h_end)``."""
    s = np.searchsorted(split.edges_us, np.asarray(ts_us, np.int64), side="right") - 1
    bad = (s < 0) | (s > 2)
    if bad.any():
        i = int(np.argmax(bad))
        raise EngineError(
            "SPLIT_GAP",
            STATE,
            f"row {i}: ts_utc {int(ts_us[i])} µs is outside the horizon "
            f"[{split.h0}, {split.h_end}) s ({int(bad.sum())} rows)",
        )
    return s.astype(np.int8)


def window_cut(ts_us: np.ndarray, split: Split, max_rows: int) -> int:
    """Rows of a sorted buffer that form the next output window: up to the next split
    boundary, at most ``max_rows``."""
    if ts_us.size == 0:
        return 0
    s0 = int(assign_split(ts_us[:1], split)[0])
    end = int(split.edges_us[s0 + 1])
    return int(min(max_rows, np.searchsorted(ts_us, end, side="left")))


def label_views(observed, label_ts_us, label_valid, cutoffs_us) -> list[np.ndarray]:
    """``y_x = observed_is_fraud ∧ label_available_ts ≤ cutoff_x`` (a null availability
    time is never ≤ a cutoff)."""
    obs = np.asarray(observed, bool) & np.asarray(label_valid, bool)
    ts = np.asarray(label_ts_us, np.int64)
    return [obs & (ts <= np.int64(c)) for c in cutoffs_us]


def age_days(ts_us: np.ndarray, since_days: np.ndarray) -> tuple[np.ndarray, int]:
    """Whole days from a date to the row's UTC date as uint32 and the rows clipped at 0
    (6A dates end at reference_date ≤ h0, so a clip means a date inside the horizon)."""
    d = np.asarray(ts_us, np.int64) // DAY_US - np.asarray(since_days, np.int64)
    neg = d < 0
    return np.where(neg, 0, d).astype(np.uint32), int(neg.sum())


# --- sorted-query joins -------------------------------------------------------------------
class Lookup:
    """One 6A id column as a sorted array with its bucket index, built once per state.
    ``rows`` maps query ids to ranks in id order; ``sort`` puts a column of the table as
    given into that order (6A tables are written sorted by id, so usually a no-op)."""

    def __init__(self, name: str, ids: np.ndarray):
        ids = np.ascontiguousarray(ids, np.uint64)
        self.order = None
        if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
            self.order = np.argsort(ids, kind="stable")
            ids = ids[self.order]
            dup = ids[1:] == ids[:-1]
            if dup.any():
                raise EngineError(
                    "CHECK_FAILED", STATE, f"{name}: id {int(ids[1:][dup][0])} appears twice"
                )
        if ids.size >= 1 << 32:  # ranks are packed into 32 bits (edge keys)
            raise EngineError("CHECK_FAILED", STATE, f"{name}: {ids.size} rows ≥ 2^32")
        self.name, self.ids, self.index = name, ids, SortedIndex(ids)

    def sort(self, col):
        """A column of the table as given, in id order (numpy or Arrow)."""
        if self.order is None:
            return col
        return col[self.order] if isinstance(col, np.ndarray) else col.take(self.order)

    def rows(self, q: np.ndarray, column: str, valid: np.ndarray | None = None) -> np.ndarray:
        """Rank of each query id (−1 where ``valid`` is false): the ids are argsorted so the
        search walks the sorted array once, then the ranks are scattered back to query
        order. JOIN_MISS names the column and the smallest missing id."""
        q = np.asarray(q, np.uint64)
        sel = None if valid is None else np.flatnonzero(valid)
        qq = q if sel is None else q[sel]
        o = np.argsort(qq)
        qs = qq[o]
        pos = self.index.positions(qs)
        n = self.ids.size
        hit = (pos < n) & (self.ids[np.minimum(pos, max(n - 1, 0))] == qs) if n else pos < 0
        if not hit.all():
            miss = qs[~hit]
            raise EngineError(
                "JOIN_MISS",
                STATE,
                f"{column}: id {int(miss[0])} not in {self.name} ({miss.size} rows)",
            )
        back = np.empty(qq.size, np.int64)
        back[o] = pos
        if sel is None:
            return back
        out = np.full(q.size, -1, np.int64)
        out[sel] = back
        return out


def pair_keys(src_rank: np.ndarray, dst_rank: np.ndarray) -> np.ndarray:
    """Distinct (src, dst) rank pairs as sorted uint64 keys ``src << 32 | dst``: one integer
    sort instead of a two-key lexsort, and key order is (src id, dst id) order."""
    k = (np.asarray(src_rank, np.uint64) << np.uint64(32)) | np.asarray(dst_rank, np.uint64)
    return unique_u64(k)


def key_ids(keys: np.ndarray, src: Lookup, dst: Lookup) -> tuple[np.ndarray, np.ndarray]:
    return src.ids[keys >> np.uint64(32)], dst.ids[keys & np.uint64(0xFFFFFFFF)]


class Attr:
    """An attribute column of a 6A table held as numpy (codes into one dictionary for
    strings, −1 for null; values and validity for numbers); ``take`` gathers it at join
    rows, null where the row is −1."""

    def __init__(self, col: pa.ChunkedArray | pa.Array):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()  # one dictionary: concatenation unifies them
        self.valid = ~col.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_dictionary(col.type):
            self.dictionary = col.dictionary
            self.values = pc.fill_null(col.indices, -1).to_numpy().astype(np.int32)
        else:
            self.dictionary = None
            self.type = col.type
            self.values = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)

    def take(self, rows: np.ndarray) -> pa.Array:
        r = np.maximum(rows, 0)
        mask = (rows < 0) | ~self.valid[r]
        v = self.values[r]
        if self.dictionary is None:
            return pa.array(v, self.type, mask=mask if mask.any() else None)
        idx = pa.array(v, pa.int32(), mask=mask if mask.any() else None)
        return pa.DictionaryArray.from_arrays(idx, self.dictionary)


# --- projection and edges -----------------------------------------------------------------
def project(cols: dict, schema: pa.Schema, what: str = "ml_transactions_6B") -> pa.Table:
    """The window in contract order; COLUMN_NOT_WHITELISTED if its columns or types are not
    exactly the contract's (and the contract not the §4.5 whitelist)."""
    want = list(schema.names)
    if what == "ml_transactions_6B" and want != list(WHITELIST):
        extra = sorted(set(want) - set(WHITELIST)) or sorted(set(WHITELIST) - set(want))
        raise EngineError(
            "COLUMN_NOT_WHITELISTED", STATE, f"contract {what} differs from §4.5 at {extra}"
        )
    if set(cols) != set(want):
        extra = sorted(set(cols) - set(want))
        missing = sorted(set(want) - set(cols))
        raise EngineError(
            "COLUMN_NOT_WHITELISTED",
            STATE,
            f"{what}: columns {extra} not whitelisted, {missing} missing",
        )
    arrays = []
    for f in schema:
        a = cols[f.name]
        if not a.type.equals(f.type):
            raise EngineError(
                "COLUMN_NOT_WHITELISTED",
                STATE,
                f"{what}: column {f.name} is {a.type}, not {f.type}",
            )
        arrays.append(a)
    return pa.Table.from_arrays(arrays, schema=schema.remove_metadata())


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs sorted by (a, b) (a no-op on pairs already so)."""
    a, b = np.asarray(a, np.uint64), np.asarray(b, np.uint64)
    if a.size < 2:
        return a, b
    step = (a[1:] > a[:-1]) | ((a[1:] == a[:-1]) & (b[1:] > b[:-1]))
    if step.all():
        return a, b
    o = np.lexsort((b, a))
    a, b = a[o], b[o]
    keep = np.ones(a.size, bool)
    keep[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[keep], b[keep]


def edge_table(blocks: dict[str, tuple[np.ndarray, np.ndarray]], schema: pa.Schema) -> pa.Table:
    """``ml_entity_edges_6B`` from (src ids, dst ids) per edge type, deduplicated and sorted
    by (src_kind, src_id, edge_type, dst_id)."""
    if set(blocks) - set(EDGE_TYPES):
        raise EngineError(
            "CHECK_FAILED", STATE, f"edge types {sorted(set(blocks) - set(EDGE_TYPES))}"
        )
    empty = (np.zeros(0, np.uint64),) * 2
    e_parts, s_parts, d_parts = [], [], []
    for kind in range(len(SRC_KINDS)):
        es, ss, ds = [], [], []
        for code in np.flatnonzero(EDGE_SRC == kind):
            src, dst = unique_pairs(*blocks.get(EDGE_TYPES[code], empty))
            es.append(np.full(src.size, code, np.int8))
            ss.append(src)
            ds.append(dst)
        e, src, dst = (np.concatenate(x) for x in (es, ss, ds))
        # blocks are in edge-type order and each sorted by (src, dst): a stable sort by
        # src (timsort merges the runs) gives (src, edge_type, dst)
        o = np.argsort(src, kind="stable") if len(es) > 1 else slice(None)
        e_parts.append(e[o])
        s_parts.append(src[o])
        d_parts.append(dst[o])
    e, s, d = (np.concatenate(x) for x in (e_parts, s_parts, d_parts))

    def coded(codes, vocab):
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(vocab))

    cols = {
        "src_kind": coded(EDGE_SRC[e].astype(np.int32), SRC_KINDS),
        "src_id": pa.array(s, pa.uint64()),
        "edge_type": coded(e.astype(np.int32), EDGE_TYPES),
        "dst_kind": coded(EDGE_DST[e].astype(np.int32), DST_KINDS),
        "dst_id": pa.array(d, pa.uint64()),
    }
    return project(cols, schema, "ml_entity_edges_6B")


def coded_split(code: int, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.full(n, code, np.int32), pa.int32()), pa.array(SPLITS)
    )
