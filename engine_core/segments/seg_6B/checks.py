"""The 6B check list (layer3 §4.7) over the published tables, every row. Integrity checks
re-run from the files the states published (each state ran them before publishing); the
realism gates join with the states that measure them (S5 reports them)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.checks import INTEGRITY, Check, from_raising
from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.segments.columns import codes_of
from engine_core.segments.common import input_parts, read_json, read_table
from engine_core.segments.seg_6B import checks_s1 as C
from engine_core.segments.seg_6B import checks_s3_tables as C3
from engine_core.segments.seg_6B import checks_s4
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s1_rows import Clock
from engine_core.segments.tz import load_cache
from engine_core.timeutil import parse_utc

V = "6B.S5"
TXN = "s1_legit_txns_6B"
SCAN = [
    "txn_id", "ts_utc", "ts_local", "tzid", "txn_type", "channel", "pos_entry_mode",
    "merchant_id", "site_id", "edge_id", "terminal_id", "party_id", "instrument_id",
    "device_id", "ip_id", "parent_txn_id", "txn_index", "source", "arrival_index",
]  # fmt: skip


def _u(t, c):
    """A nullable id column as uint64 with 0 for null."""
    return pc.fill_null(t.column(c), 0).to_numpy()


def _present(t, c):
    """0 where the column is set, −1 where null (the in-state checks' row convention)."""
    return np.where(pc.is_null(t.column(c)).to_numpy(zero_copy_only=False), -1, 0)


def _parts(ctx):
    for i, p in enumerate(input_parts(ctx, TXN, state=V)):
        yield i, pq.read_table(p, columns=SCAN)


def s1_rows(ctx) -> dict:
    """I01, I02, I04 and I06 over every part of ``s1_legit_txns_6B``."""
    receipt = read_json(ctx, "s0_gate_receipt_6B", state=V)
    h0 = parse_utc(receipt["horizon_start_utc"]) * 1_000_000
    h_end = parse_utc(receipt["horizon_end_utc"]) * 1_000_000
    clock = Clock(load_cache(ctx))
    inst = read_table(ctx, "s3_instrument_base_6A", ["instrument_id", "instrument_type"], state=V)
    i_id = inst.column(0).to_numpy()
    wallet = codes_of(inst.column(1), ["WALLET_TOKEN"], missing=-1) == 0
    party = read_table(ctx, "s1_party_base_6A", ["party_id", "home_tzid"], state=V)
    p_id = party.column(0).to_numpy()
    p_tz = codes_of(party.column(1), clock.tzids)
    ids, arrivals, rows = [], [], 0
    for part, t in _parts(ctx):
        ts = pc.cast(t.column("ts_utc"), pa.int64()).to_numpy()
        c = {
            "txn_index": t.column("txn_index").to_numpy(),
            "channel": codes_of(t.column("channel"), list(X.CHANNELS)),
            "entry": codes_of(t.column("pos_entry_mode"), list(X.ENTRY)),
            "type": codes_of(t.column("txn_type"), list(X.TXN_TYPES)),
            "edge": _u(t, "edge_id"),
            "site": _present(t, "site_id"),
            "term": _present(t, "terminal_id"),
            "dev": _present(t, "device_id"),
            "ip": _present(t, "ip_id"),
            "m": _present(t, "merchant_id"),
            "parent": _u(t, "parent_txn_id"),
            "ts": ts,
            "tz": codes_of(t.column("tzid"), clock.tzids),
            "ts_local": pc.cast(t.column("ts_local"), pa.int64()).to_numpy(),
        }  # fmt: skip
        tid = t.column("txn_id").to_numpy()
        C.i01_run(tid, ts, part)
        C.i04_channels(c, wallet[find_sorted(i_id, t.column("instrument_id").to_numpy())], part)
        party_tz = p_tz[find_sorted(p_id, t.column("party_id").to_numpy())]
        C.i06_clock(c, party_tz, h0, h_end, clock, part)
        ids.append(tid)
        src = codes_of(t.column("source"), list(X.SOURCES)) == 0
        arrivals.append(_u(t, "arrival_index")[src])
        rows += t.num_rows
    all_ids = np.concatenate(ids) if ids else np.zeros(0, np.uint64)
    if np.unique(all_ids).size != all_ids.size:
        raise EngineError("CHECK_FAILED", V, "6B-I01: txn_id repeats across parts")
    n5b = sum(
        pq.ParquetFile(p).metadata.num_rows for p in input_parts(ctx, "arrival_events_5B", state=V)
    )
    a = np.sort(np.concatenate(arrivals)) if arrivals else np.zeros(0, np.uint64)
    if a.size != n5b or not np.array_equal(a, np.arange(n5b, dtype=a.dtype)):
        raise EngineError(
            "CHECK_FAILED", V, f"6B-I02: {a.size} ARRIVAL rows for {n5b} 5B arrivals (or repeats)"
        )
    return {"rows": rows, "arrivals": int(n5b)}


def s1_trace(ctx) -> dict:
    """I10: the S1 trace totals equal the family formulas of the published rows."""
    tr = read_table(ctx, "rng_trace_log_6B_S1", ["family_id", "draws"], state=V)
    got: dict[str, int] = {}
    for f, d in zip(tr.column(0).to_pylist(), tr.column(1).to_pylist(), strict=True):
        got[f] = got.get(f, 0) + int(d)
    src = pc.value_counts(read_table(ctx, TXN, ["source"], state=V).column(0).combine_chunks())
    n = {str(r["values"]): int(r["counts"]) for r in src.to_pylist()}
    parties = read_table(ctx, "s1_party_base_6A", ["party_id"], state=V).num_rows
    trips = read_table(ctx, "s1_trips_6B", ["party_id"], state=V).num_rows
    merchants = read_table(ctx, "merchant_universe", ["merchant_id"], state=V).num_rows
    want = {
        "6B.S1.merchant_tilt": 2 * merchants,
        "6B.S1.trips": parties + 3 * trips,
        "6B.S1.attach": 20 * n.get("ARRIVAL", 0),
        "6B.S1.p2p": parties + 8 * n.get("P2P", 0),
        "6B.S1.credit": parties + 3 * n.get("EXTERNAL_CREDIT", 0),
    }
    bad = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) != v}
    if bad:
        raise EngineError("CHECK_FAILED", V, f"6B-I10: traced vs formula {bad}")
    return want


CHECKS: list[Check] = [
    Check("6B.S1.I01_rows", INTEGRITY, TXN, from_raising(s1_rows),
          "txn ids unique, runs sorted, channel and clock coherence, one row per 5B arrival"),
    Check("6B.S1.I10_trace", INTEGRITY, "rng_trace_log_6B_S1", from_raising(s1_trace),
          "RNG trace totals = family formulas (20 draws per arrival)"),
    Check("6B.S3.I02_merge", INTEGRITY, "s3_transactions_6B", from_raising(C3.s3_merge),
          "rows strictly sorted, ids unique, tables row-aligned, each 5B arrival once, L + I rows"),
    Check("6B.S3.I08_labels", INTEGRITY, "s3_labels_6B", from_raising(C3.s3_labels),
          "label fields consistent, availability after the row and within the cap; F fraud rows"),
    Check("6B.S3.I10_trace", INTEGRITY, "rng_trace_log_6B_S3", from_raising(C3.s3_trace),
          "RNG trace totals = family formulas (2 per cluster, 2 per noise row)"),
    Check("6B.S4.I09_export", INTEGRITY, "ml_transactions_6B", from_raising(checks_s4.export),
          "ML columns = whitelist, labels row-aligned 1:1, one split per row group in time order"),
]  # fmt: skip

from engine_core.segments.seg_6B.gates_checks import GATES  # noqa: E402

CHECKS += GATES  # the realism gates R01–R13 (6B.S5 measures them)
