"""5B.S4 — arrival events (layer2 §4): plan the routing universe (validated contract, decoded
2B/3B alias tables, flattened tz cache), cut S3's non-zero rows into parts by arrival count
(a law of the counts alone), and expand each part with the compiled kernel on worker threads.
Counts are never redrawn; the grid and grouping are never altered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels import alias_blob
from engine_core.kernels.arrivals import ERR_NAMES, expand_arrivals
from engine_core.parallel import ordered_map
from engine_core.rng.sha256_nb import bucket_streams, midstate
from engine_core.segments.common import input_path, read_json, read_table
from engine_core.segments.parts import codes, dict_array, part_files, read_part
from engine_core.segments.seg_3B.api import routing_policy
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import (
    LAWS,
    US,
    dense_keys,
    domain,
    family_prefix,
    horizon,
    ledger,
    n_parts,
    require_trace,
)
from engine_core.segments.seg_5B.s3_counts import domain_key_prefixes
from engine_core.segments.state_io import open_state

STATE = "5B.S4"
FAMILY = "5B.S4.arrival.v1"
LAW_FIELDS = ("modes", "hybrid_probability_column", "site_pick", "edge_pick", "virtual_tz",
              "physical_tz", "alias_layout_version")  # fmt: skip
ENCODING = {
    c: "DELTA_BINARY_PACKED"
    for c in ("bucket_index", "arrival_seq", "ts_utc", "ts_local_primary", "ts_local_operational",
              "ts_local_settlement")
}  # fmt: skip


def check_contract(ctx: RunContext, doc: dict, state: str = STATE) -> str:
    """The routing contract must state exactly the §4.3 law (3B.S4 writes it from the same
    template); any difference is ``ROUTING_CONTRACT_MISMATCH``. Its hashes are bound to the data
    by 3B's HashGate (verified at S0), so only the law fields are compared here."""
    want = routing_policy(ctx, doc.get("edge_universe_hash", ""))
    diff = [f for f in LAW_FIELDS if doc.get(f) != want[f]]
    if diff:
        raise EngineError(
            "ROUTING_CONTRACT_MISMATCH",
            state,
            f"virtual_routing_policy_3B: {', '.join(diff)} differ from the layer2 §4.3 law",
        )
    return doc["routing_universe_hash"]


class Router:
    """Planning of layer2 §4.2: everything the kernel reads, decoded once, shared read-only."""

    def __init__(self, ctx: RunContext, state: str = STATE):
        from engine_core.segments.tz import load_cache

        self.state = state
        self.hz = horizon(ctx, state)
        self.dom = domain(ctx, state)
        self.keys = dense_keys(ctx, self.dom, self.hz.h, state)
        cache = load_cache(ctx)
        self.tz_vocab = cache.tzids
        self.tz_start = np.concatenate([[0], np.cumsum(cache.count)]).astype(np.int64)
        self.tz_initial = cache.initial_offset.astype(np.int32)
        self.trans_us = cache.instants.astype(np.int64) * US
        self.off_s = cache.offsets.astype(np.int32)
        self.coverage_end_us = int(cache.coverage_end) * US
        contract = read_json(ctx, "virtual_routing_policy_3B")
        self.routing_hash = check_contract(ctx, contract, state)
        self._merchants(ctx)
        self._sites(ctx)
        self._edges(ctx)
        self.dom_bytes, self.dom_off = domain_key_prefixes(self.dom)
        self.ms = midstate(family_prefix(ctx, FAMILY))

    def _merchants(self, ctx):
        ids = np.unique(self.dom["merchant_id"].to_numpy())
        self.m_ids = ids.astype(np.uint64)
        self.row_merchant = np.searchsorted(ids, self.dom["merchant_id"].to_numpy()).astype(
            np.int32
        )
        vc = pl.from_arrow(
            read_table(
                ctx,
                "virtual_classification_3B",
                ["merchant_id", "virtual_mode", "p_virtual"],
                state=self.state,
            )
        )
        m = pl.DataFrame({"merchant_id": ids}).join(
            vc, on="merchant_id", how="left", maintain_order="left"
        )
        if m["virtual_mode"].null_count():
            raise EngineError(
                "VIRTUAL_MODE_MISSING",
                self.state,
                f"merchant_id={m.filter(pl.col('virtual_mode').is_null())['merchant_id'][0]} "
                "has no virtual_classification_3B row",
            )
        # kernel mode codes follow K.MODES; codes() needs the sorted vocabulary → remap
        srt = sorted(K.MODES)
        self.m_mode = np.array([K.MODES.index(x) for x in srt], dtype=np.int8)[
            codes(m["virtual_mode"].cast(pl.String).to_numpy(), srt, state=self.state, what="mode")
        ]
        self.m_p_virtual = m["p_virtual"].to_numpy().astype(np.float64)
        st = pl.from_arrow(
            read_table(
                ctx, "virtual_settlement_3B", ["merchant_id", "tzid_settlement"], state=self.state
            )
        )
        s = pl.DataFrame({"merchant_id": ids}).join(
            st, on="merchant_id", how="left", maintain_order="left"
        )
        settle = s["tzid_settlement"].to_numpy()
        has = s["tzid_settlement"].is_not_null().to_numpy()
        self.m_settle_tz = np.full(ids.shape[0], -1, dtype=np.int32)
        self.m_settle_tz[has] = codes(
            settle[has], self.tz_vocab, state=self.state, what="tzid_settlement"
        )
        virt = self.m_mode != 0
        if np.any(virt & ~has):
            raise EngineError(
                "SETTLEMENT_TZ_MISSING",
                self.state,
                f"merchant_id={int(ids[np.flatnonzero(virt & ~has)[0]])} "
                "has no virtual_settlement_3B row",
            )

    def _sites(self, ctx):
        idx = pl.from_arrow(read_table(ctx, "s2_alias_index", state=self.state))
        data = input_path(ctx, "s2_alias_blob").read_bytes()
        subkey_of = {
            z: alias_blob.site_subkey(z) for z in idx["tzid"].unique().to_list()
        }  # per tzid
        subkeys = idx.select(pl.col("tzid").replace_strict(subkey_of, return_dtype=pl.UInt64))[
            "tzid"
        ].to_numpy()
        self.sites = alias_blob.decode_indexed(
            data,
            idx["blob_offset"].to_numpy(),
            idx["n_entries"].to_numpy(),
            idx["merchant_id"].to_numpy(),
            subkeys,
            idx["table_sha256"].to_list(),
            state=self.state,
            what="s2_alias_blob",
        )
        t = idx.select("merchant_id", "tzid").with_row_index("table")
        j = self.dom.select("merchant_id", "tzid").join(
            t, on=["merchant_id", "tzid"], how="left", maintain_order="left"
        )
        if j["table"].null_count():
            r = j.filter(pl.col("table").is_null()).row(0, named=True)
            raise EngineError(
                "SITE_TABLE_MISSING",
                self.state,
                f"s2_alias_index has no table for "
                f"(merchant_id={r['merchant_id']}, tzid={r['tzid']})",
            )
        self.row_site_table = j["table"].to_numpy().astype(np.int32)

    def _edges(self, ctx):
        idx = pl.from_arrow(read_table(ctx, "edge_alias_index_3B", state=self.state))
        data = input_path(ctx, "edge_alias_blob_3B").read_bytes()
        self.edges = alias_blob.decode_indexed(
            data,
            idx["blob_offset"].to_numpy(),
            idx["n_entries"].to_numpy(),
            idx["merchant_id"].to_numpy(),
            None,
            idx["table_sha256"].to_list(),
            state=self.state,
            what="edge_alias_blob_3B",
        )
        cat = pl.from_arrow(
            read_table(
                ctx,
                "edge_catalogue_3B",
                ["merchant_id", "edge_id", "tzid_operational"],
                state=self.state,
            )
        )
        table = np.repeat(np.arange(idx.height), np.diff(self.edges.off))
        slots = pl.DataFrame(
            {"merchant_id": idx["merchant_id"].to_numpy()[table], "edge_id": self.edges.entity}
        )
        j = slots.join(cat, on=["merchant_id", "edge_id"], how="left", maintain_order="left")
        if j["tzid_operational"].null_count():
            raise EngineError(
                "ALIAS_BLOB_CORRUPT", self.state, "an edge slot is not in edge_catalogue_3B"
            )
        self.et_tz = codes(
            j["tzid_operational"].to_numpy(), self.tz_vocab, state=self.state, what="edge tzid"
        )
        pos = np.searchsorted(self.m_ids, idx["merchant_id"].to_numpy())
        self.m_edge_table = np.full(self.m_ids.shape[0], -1, dtype=np.int32)
        inside = pos < self.m_ids.shape[0]
        hit = inside & (
            self.m_ids[np.minimum(pos, len(self.m_ids) - 1)] == idx["merchant_id"].to_numpy()
        )
        self.m_edge_table[pos[hit]] = np.flatnonzero(hit).astype(np.int32)
        need = (self.m_mode != 0) & (self.m_edge_table < 0)
        if need.any():
            raise EngineError(
                "EDGE_TABLE_MISSING",
                self.state,
                f"merchant_id={int(self.m_ids[np.flatnonzero(need)[0]])} "
                "is virtual without an edge table",
            )

    # --- one part --------------------------------------------------------------------------
    def expand(
        self,
        row_dom: np.ndarray,
        row_bucket: np.ndarray,
        row_count: np.ndarray,
        row_seq: np.ndarray,
    ):
        """Kernel outputs for the given non-zero bucket rows (in writer order)."""
        key, hi, lo = bucket_streams(self.ms, self.dom_bytes, self.dom_off, row_dom, row_bucket)
        counts = row_count.astype(np.uint32)
        off = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=off[1:])
        a = int(off[-1])
        nmax = int(counts.max()) if counts.size else 0
        o = {
            "ts": np.empty(a, np.int64), "seq": np.empty(a, np.int64),
            "virt": np.empty(a, np.bool_),
            "site": np.empty(a, np.uint64), "edge": np.empty(a, np.uint64),
            "tz_p": np.empty(a, np.int32), "loc_p": np.empty(a, np.int64),
            "tz_o": np.empty(a, np.int32), "loc_o": np.empty(a, np.int64),
            "tz_s": np.empty(a, np.int32), "loc_s": np.empty(a, np.int64),
        }  # fmt: skip
        n_virtual = np.zeros(counts.shape[0], dtype=np.uint32)
        start = self.hz.start * US + row_bucket.astype(np.int64) * self.hz.bucket * US
        err = expand_arrivals(
            self.row_merchant[row_dom], self.keys.tz[row_dom], self.row_site_table[row_dom], start,
            counts, off[:-1], row_seq.astype(np.int64), key, hi, lo,
            self.m_mode, self.m_p_virtual, self.m_edge_table, self.m_settle_tz,
            self.sites.off, self.sites.q, self.sites.alias, self.sites.entity,
            self.edges.off, self.edges.q, self.edges.alias, self.edges.entity, self.et_tz,
            self.tz_start, self.tz_initial, self.trans_us, self.off_s, self.coverage_end_us,
            self.hz.bucket * US,
            o["ts"], o["seq"], o["virt"], o["site"], o["edge"],
            o["tz_p"], o["loc_p"], o["tz_o"], o["loc_o"], o["tz_s"], o["loc_s"],
            n_virtual, np.empty(nmax, np.int64), np.empty(nmax, np.int64),
            np.empty(nmax, np.uint64), np.empty(nmax, np.bool_),
        )  # fmt: skip
        if err >= 0:
            r, code = int(err) >> 8, int(err) & 0xFF
            d = self.dom.row(int(row_dom[r]), named=True)
            raise EngineError(
                "KERNEL_ROW_ERROR" if code not in ERR_NAMES else ERR_NAMES[code],
                self.state,
                f"merchant_id={d['merchant_id']}, tzid={d['tzid']}, channel={d['channel_group']}, "
                f"bucket {int(row_bucket[r])}: kernel code {code}",
            )
        return o, counts, (key, hi, lo), n_virtual

    def table(self, row_dom, row_bucket, counts, o) -> pa.Table:
        a = o["ts"].shape[0]
        virt = o["virt"]

        def rep(x):
            return np.repeat(x, counts)

        def nullable(values, valid):
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
            return pa.Array.from_buffers(
                pa.uint64(), a, [bitmap, pa.py_buffer(values)], null_count=int(a - valid.sum())
            )

        def ts(x, tz=None):
            return pa.Array.from_buffers(pa.timestamp("us", tz=tz), a, [None, pa.py_buffer(x)])

        return pa.table(
            {
                "merchant_id": pa.array(rep(self.keys.merchant[row_dom]), pa.uint64()),
                "tzid": dict_array(rep(self.keys.tz[row_dom]), self.tz_vocab),
                "channel_group": dict_array(rep(self.keys.ch[row_dom]), K.CHANNELS),
                "bucket_index": pa.array(rep(row_bucket.astype(np.int32)), pa.int32()),
                "arrival_seq": pa.array(o["seq"], pa.int64()),
                "ts_utc": ts(o["ts"], "UTC"),
                "is_virtual": pa.array(virt, pa.bool_()),
                "site_id": nullable(o["site"], ~virt),
                "edge_id": nullable(o["edge"], virt),
                "tzid_primary": dict_array(o["tz_p"], self.tz_vocab),
                "tzid_operational": dict_array(o["tz_o"], self.tz_vocab),
                "tzid_settlement": dict_array(o["tz_s"], self.tz_vocab),
                "ts_local_primary": ts(o["loc_p"]),
                "ts_local_operational": ts(o["loc_o"]),
                "ts_local_settlement": ts(o["loc_s"]),
                "routing_universe_hash": dict_array(np.zeros(a, np.int32), [self.routing_hash]),
            }
        )


@dataclass
class PlannedPart:
    index: int
    row_dom: np.ndarray  # int64 domain row
    row_bucket: np.ndarray  # int64
    row_count: np.ndarray  # uint32 (> 0)
    row_seq: np.ndarray  # int64 seq_start


def plan(ctx: RunContext, router: Router, state: str = STATE) -> Iterator[PlannedPart]:
    """Walk S3 in writer order and cut a part after the first bucket row at which the part's
    cumulative arrivals reach 2 097 152 (layer2 §4.5). Also computes ``seq_start`` (a running
    per-merchant counter). Holds only the pending part's arrays."""
    d, h = router.dom.height, router.hz.h
    src = part_files(ctx, "s3_bucket_counts_5B", state, n_parts(d))
    pend: list[tuple[np.ndarray, ...]] = []
    pend_total = 0
    part = 0
    last_merchant, merchant_total = -1, 0
    for p, path in enumerate(src if d else []):
        a, b = p * K.PART_ROWS, min(d, (p + 1) * K.PART_ROWS)
        t = read_part(path)
        router.keys.slice(a, b).verify(
            t, where=f"s3_bucket_counts_5B part {p}", code="INPUT_MISALIGNED", state=state
        )
        c = t.column("count_n").to_numpy()
        nz = np.flatnonzero(c)
        rd = (a + nz // h).astype(np.int64)
        rb = (nz % h).astype(np.int64)
        rc = c[nz].astype(np.uint32)
        # seq_start: arrivals of the merchant in earlier rows (merchant rows are contiguous)
        mer = router.row_merchant[rd]
        cum = np.cumsum(rc, dtype=np.int64) - rc  # exclusive, within this S3 part
        first = np.ones(rc.shape[0], dtype=bool)
        first[1:] = mer[1:] != mer[:-1]
        starts = np.flatnonzero(first)
        base = np.repeat(cum[starts], np.diff(np.append(starts, rc.shape[0])))
        seq = cum - base
        if rc.size and mer[0] == last_merchant:  # the merchant continues from the previous part
            cont = mer == last_merchant
            seq[cont] += merchant_total
        if rc.size:
            last_merchant, merchant_total = mer[-1], int(seq[-1] + rc[-1])
        arrays = (rd, rb, rc, seq)
        while arrays[0].size:
            cum_p = pend_total + np.cumsum(arrays[2], dtype=np.int64)
            hit = np.flatnonzero(cum_p >= K.ARRIVAL_PART_TARGET)
            if not hit.size:
                pend.append(arrays)
                pend_total = int(cum_p[-1])
                break
            k = int(hit[0]) + 1
            pend.append(tuple(x[:k] for x in arrays))
            yield PlannedPart(part, *(np.concatenate([q[i] for q in pend]) for i in range(4)))
            part += 1
            pend, pend_total = [], 0
            arrays = tuple(x[k:] for x in arrays)
    if pend or part == 0:
        cols = [
            np.concatenate([q[i] for q in pend]) if pend else np.zeros(0, dt)
            for i, dt in enumerate((np.int64, np.int64, np.uint32, np.int64))
        ]
        yield PlannedPart(part, *cols)


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    placement = io.policy("arrivals_5B")["placement"]["law"]  # the law the kernel implements
    if not LAWS[FAMILY].startswith(f"{placement}+"):
        raise EngineError(
            "RNG_POLICY_MISMATCH", STATE, f"policies/5B/arrivals.yaml /placement/law {placement}"
        )
    require_trace(ctx, "S3", STATE)
    router = Router(ctx)
    out = io.staged("arrival_events_5B", column_encoding=ENCODING)

    def work(pp: PlannedPart):
        o, counts, streams, nv = router.expand(pp.row_dom, pp.row_bucket, pp.row_count, pp.row_seq)
        n = out.write(pp.index, router.table(pp.row_dom, pp.row_bucket, counts, o))
        hyb = router.m_mode[router.row_merchant[pp.row_dom]] == 1
        return pp.index, n, counts, hyb, streams, int(nv.sum())

    led = ledger(ctx, STATE, FAMILY)
    total = virtual = hybrid = 0
    expected = 0
    if ctx.progress:  # Σ count_n for the bar's ETA (one column of S3, never data)
        src = part_files(ctx, "s3_bucket_counts_5B", STATE)
        expected = sum(int(read_part(p, ["count_n"]).column(0).to_numpy().sum()) for p in src)
    for idx, n, counts, hyb, (key, hi, lo), nv in ordered_map(work, plan(ctx, router), ctx.workers):
        c = counts.astype(np.int64)
        if c.size:
            led.record_rows(
                FAMILY,
                idx,
                key,
                hi,
                lo,
                draws=2 * c + c * hyb,
                blocks=c + c * hyb,
                events=int(c.sum()),
            )
            led.rows[(idx, FAMILY)].streams += int(c.size)
        total += n
        virtual += nv
        hybrid += int((c * hyb).sum())
        if ctx.progress:
            ctx.progress(STATE, total, max(expected, 1))
    if not led.rows:
        led.record(FAMILY, 0, events=0, draws=0, blocks=0, first=None, last=None)
    io.add(out.publish(total))
    io.publish_ledger(led)
    return io.result(
        rows=total,
        metadata={"arrivals": total, "virtual": virtual, "physical": total - virtual,
                  "hybrid_arrivals": hybrid, "parts": len(list(out.final.glob("part-*.parquet")))},
    )  # fmt: skip
