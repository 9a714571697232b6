"""6B.S1 — the legitimate world (layer3 §4.2): tables and trips once per scenario
(``s1_world``), the arrival kernel chunk by chunk over the 5B partition in global row order
(``s1_attach``), transfers and credits per party (``s1_flows``); every chunk is one run file
sorted by ``(ts_utc, txn_id)``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.parallel import ordered_map
from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B import checks_s1 as C
from engine_core.segments.seg_6B import s1_flows as F
from engine_core.segments.seg_6B import s1_rows as R
from engine_core.segments.seg_6B import s1_world
from engine_core.segments.seg_6B.constants import CHUNK_ROWS, PARTY_CHUNK
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache
from engine_core.timeutil import parse_utc

STATE = "6B.S1"
POLICIES = (
    "countries_6A", "currencies_6A", "fx_static_6A", "region_map_6A", "segmentation_6A",
    "population_6A", "attachment_6B", "amounts_6B", "auth_6B", "legit_flows_6B",
    "weekly_profile_6B",
)  # fmt: skip
DOMAIN_SEP = "fw.l3.v1"
ARRIVAL_COLUMNS = [
    "merchant_id", "arrival_seq", "ts_utc", "is_virtual", "site_id", "edge_id",
    "tzid_primary", "ts_local_primary",
]  # fmt: skip


def arrival_chunks(parts, chunk_rows: int):
    """5B rows in global order (parts by name, rows in file order) as tables of exactly
    ``chunk_rows`` rows (the last one shorter); yields ``(first ordinal a, table)``."""
    pending, have, first = [], 0, 0
    for path in parts:
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=chunk_rows, columns=ARRIVAL_COLUMNS
        ):
            pending.append(batch)
            have += batch.num_rows
            while have >= chunk_rows:
                t = pa.Table.from_batches(pending).combine_chunks()
                yield first, t.slice(0, chunk_rows)
                first += chunk_rows
                rest = t.slice(chunk_rows)
                pending, have = (rest.to_batches() if rest.num_rows else []), rest.num_rows
    if have:
        yield first, pa.Table.from_batches(pending).combine_chunks()


def _routable(t: pa.Table, virt: np.ndarray, edges: np.ndarray, a0: int) -> None:
    """ARRIVAL_UNROUTABLE: a CP arrival without a site, a CNP one without a known edge."""
    site_null = pc.is_null(t.column("site_id")).to_numpy(zero_copy_only=False)
    edge = t.column("edge_id")
    edge_null = pc.is_null(edge).to_numpy(zero_copy_only=False)
    e = edge.fill_null(0).to_numpy()
    bad = (~virt & site_null) | (virt & (edge_null | ~np.isin(e, edges)))
    if bad.any():
        i = int(np.argmax(bad))
        what = (
            "without site_id" if not virt[i] else f"on edge {int(e[i])} (not in edge_catalogue_3B)"
        )
        raise EngineError(
            "ARRIVAL_UNROUTABLE",
            STATE,
            f"arrival_events_5B row {a0 + i}: a {'CNP' if virt[i] else 'CP'} arrival {what}",
        )


def run(ctx):
    io = open_state(ctx, STATE)
    pols = {n: io.policy(n) for n in POLICIES}
    receipt = io.read_json("s0_gate_receipt_6B")
    h0 = parse_utc(receipt["horizon_start_utc"]) * 1_000_000
    h_end = parse_utc(receipt["horizon_end_utc"]) * 1_000_000
    cache = load_cache(ctx)
    rng = StateRng(ctx, STATE, FAMILIES, DOMAIN_SEP)
    w = s1_world.build(io, ctx, rng, pols, h0, h_end, list(cache.tzids))
    rows = R.Rows(ctx, w, cache, pols, io)
    edges = io.read_table("edge_catalogue_3B", ["edge_id"]).column(0).to_numpy()
    edges = np.sort(edges)
    chunk_rows = CHUNK_ROWS[ctx.manifest.profile_id]
    parts = io.parts("arrival_events_5B")
    n_arrivals = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    seq_max = np.full(w.m_id.size, -1, np.int64)
    seq_n = np.zeros(w.m_id.size, np.int64)

    def chunk(item):
        part, (a0, t) = item
        m_row = find_sorted(w.m_id, t.column("merchant_id").to_numpy())
        seq = t.column("arrival_seq").to_numpy().astype(np.int64)
        virt = t.column("is_virtual").to_numpy(zero_copy_only=False)
        _routable(t, virt, edges, a0)
        s_row = np.where(
            virt, -1, np.searchsorted(w.s_id, t.column("site_id").fill_null(0).to_numpy())
        )
        ts = pc.cast(t.column("ts_utc"), pa.int64()).to_numpy()
        out = s1_world.attach(w, m_row, seq, ts, virt, s_row)
        # each worker encodes its own part file (Parquet encode is a quarter of S1)
        staged.write(part, rows.arrival_run(part, a0, t, m_row, ts, virt, out))
        return m_row, seq

    def write_runs():
        done, n_parts = 0, 0
        # chunks on worker threads (nogil kernel, Arrow encode), part k = chunk k whatever
        # the worker count; trace counts are merged here in chunk order
        for m_row, seq in ordered_map(
            chunk, enumerate(arrival_chunks(parts, chunk_rows)), ctx.workers
        ):
            np.maximum.at(seq_max, m_row, seq)
            seq_n[:] += np.bincount(m_row, minlength=w.m_id.size)
            done += seq.size
            n_parts += 1
            if ctx.progress:
                ctx.progress(STATE, done, n_arrivals)
        handle, access = rows.handle, rows.access
        tz = F.time_laws(
            cache, w.parties.tz, list(cache.tzids), pols["weekly_profile_6B"]["weights"], h0, h_end
        )
        pdict = {"ptype": w.parties.ptype, "country": w.parties.country, "cell": w.parties.cell}
        groups = F.member_groups(pdict, w.household, len(w.countries))
        dests = w.dests
        flows = pols["legit_flows_6B"]
        p_dev = pols["attachment_6B"]["availability"]["p_device_data_banking"]
        tr, _ = F.transfers(
            rng,
            pdict,
            flows,
            w.countries,
            groups,
            dests,
            tz,
            handle,
            access,
            w.dev.ips,
            p_dev,
            h0,
            h_end,
        )
        cr = F.credits(rng, pdict, flows, w.countries, dests, tz, handle, h0, h_end)
        n_p = w.parties.id.size
        for i, p0 in enumerate(range(0, max(n_p, 1), PARTY_CHUNK)):
            part = n_parts + i
            p1 = min(p0 + PARTY_CHUNK, n_p)
            staged.write(part, rows.flow_run(part, tr, cr, p0, p1, n_arrivals))

    staged = io.staged("s1_legit_txns_6B")
    write_runs()
    io.add(staged.publish(rows.n_rows))
    attach = rng.family("attach")
    for m in np.flatnonzero(seq_n > 0):  # one event per merchant: 20 draws per arrival
        attach.trace((int(w.m_stream[0][m]), int(w.m_stream[1][m]), int(w.m_stream[2][m])),
                     blocks=10 * int(seq_max[m] + 1), draws=20 * int(seq_n[m]))  # fmt: skip
    n_p, st = w.parties.id.size, rows.stats
    C.i10_trace(
        rng.ledger,
        {
            "6B.S1.merchant_tilt": 2 * w.m_id.size,
            "6B.S1.trips": n_p + 3 * int(w.trips.party.size),
            "6B.S1.attach": 20 * n_arrivals,
            "6B.S1.p2p": n_p + 8 * st["transfers"],
            "6B.S1.credit": n_p + 3 * st["credits"],
        },
    )
    io.write("s1_trips_6B", [rows.trips_table()])
    io.write("s1_hourly_cells_6B", [rows.hourly_table()])
    io.write("s1_attach_summary_6B", [rows.summary_table()])
    io.publish_ledger(rng.ledger)
    return io.result(rows=rows.n_rows, metadata=rows.metadata())
