"""6B.S3 — final transactions and labels (layer3 §4.4).

1. The overlay is read and labelled up front (``s3_overlay``: clusters, reports, declined-row
   noise; it holds every fraud row) and its rows pass the entity checks I04–I07.
2. k-way merge (``kernels.merge``) of the S1 runs plus one run of INJECT rows, in windows of
   10^6 rows; CONVERT/REBIND rows replace their S1 row in place; each window becomes one part
   (one row group) of ``s3_transactions_6B``, ``s3_labels_6B`` and ``s3_txn_provenance_6B``,
   encoded on a worker thread (``s3_windows``).
3. Whole-output checks (I02 arrivals and row count, OVERLAY_TARGET_MISSING, I03 budget, I10
   trace), entity labels, then everything is published — nothing on failure."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.kernels.alloc import round_half_even
from engine_core.kernels.lookup import SortedIndex
from engine_core.kernels.merge import WINDOW_ROWS, KWayMerge, MergeOrderError
from engine_core.parallel import ordered_map
from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B import checks_s1 as C1
from engine_core.segments.seg_6B import checks_s3 as C
from engine_core.segments.seg_6B import s2_pools
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B import s3_overlay as O
from engine_core.segments.seg_6B import s3_windows as W
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.seg_6B.s1_rows import Clock
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache
from engine_core.timeutil import parse_utc

STATE = "6B.S3"
DOMAIN_SEP = "fw.l3.v1"
WINDOWED = ("s3_transactions_6B", "s3_labels_6B", "s3_txn_provenance_6B")
MULE_ROLES = ("MULE_L1", "MULE_L2", "COLLECTOR")
# the row column that names each typology's target (I07; s2_pools.TARGETS gives the role)
TARGET_COLUMN = {
    "CARD_TESTING": "instrument", "STOLEN_CARD_CNP": "instrument", "STOLEN_CARD_CP": "instrument",
    "ACCOUNT_TAKEOVER": "account", "MULE_MONEY_MOVEMENT": "account",
    "FIRST_PARTY_BUST_OUT": "party", "MERCHANT_COLLUSION": "merchant",
}  # fmt: skip


def _rows_of(paths) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


def _filtered(io, dataset_id: str, columns: list[str], keys: dict) -> pa.Table:
    """Rows of a (possibly large) 6A table whose ``col`` is in ``keys[col]`` for some col —
    read batch by batch, so only the rows the overlay names are kept."""
    index = {c: SortedIndex(np.unique(np.asarray(k, np.uint64))) for c, k in keys.items()}
    out = []
    for path in io.parts(dataset_id):
        for b in pq.ParquetFile(path).iter_batches(batch_size=1 << 20, columns=columns):
            keep = np.zeros(b.num_rows, bool)
            for c, ix in index.items():
                keep |= ix.contains(O.u64(b.column(c)))
            if keep.any():
                out.append(b.filter(pa.array(keep)))
    schema = pa.schema([io.ctx.dictionary.arrow_schema_of(dataset_id).field(c) for c in columns])
    return pa.Table.from_batches(out) if out else schema.empty_table()


def _strings(col, vocab) -> np.ndarray:
    return np.array(list(vocab) + [""])[O.codes(col, vocab)]


def overlay_checks(io, ctx, t: pa.Table, ov: O.Overlay, h0: int, h_end: int) -> None:
    """I04–I07 on the overlay rows (the rows S3 introduces; S1's rows were checked by S1)."""
    legit = ov.kind == O.REBIND
    c = O.row_columns(t, legit)
    inst = _filtered(
        io, "s3_instrument_base_6A",
        ["instrument_id", "instrument_type", "account_id", "holder_party_id"],
        {"instrument_id": c["instrument"]},
    ).sort_by("instrument_id")  # fmt: skip
    i_id = inst.column("instrument_id").to_numpy()
    wallet = O.codes(inst.column("instrument_type"), [C.WALLET]) == 0
    pos = np.minimum(np.searchsorted(i_id, c["instrument"]), max(i_id.size - 1, 0))
    try:
        C1.i04_channels(c, wallet[pos] if i_id.size else np.zeros(ov.n, bool), -1)
        devs, ips = c["device"][c["device"] != 0], c["ip_id"][c["ip_id"] != 0]
        dl = _filtered(io, "s4_device_links_6A",
                       ["device_id", "link_role", "party_id", "account_id", "instrument_id"],
                       {"device_id": devs})  # fmt: skip
        roles = ["PRIMARY_OWNER", "SHARED_USER", "ACCOUNT_ACCESS", "CARD_ON_FILE", "TOKEN_BINDING"]
        dlinks = {
            k: O.u64(dl.column(k)) for k in ("device_id", "party_id", "account_id", "instrument_id")
        }
        dlinks["role"] = _strings(dl.column("link_role"), roles)
        il = _filtered(
            io, "s4_ip_links_6A", ["device_id", "ip_id"], {"device_id": devs, "ip_id": ips}
        )
        ib = _filtered(io, "s4_ip_base_6A", ["ip_id", "ip_type"], {"ip_id": ips})
        e = C.link_index(
            dlinks,
            {"device_id": O.u64(il.column("device_id")), "ip_id": O.u64(il.column("ip_id"))},
            {"ip_id": O.u64(ib.column("ip_id")),
             "ip_type": _strings(ib.column("ip_type"), ["PUBLIC_WIFI", "MOBILE_CGNAT"])},
        )  # fmt: skip
        e.update(inst_id=i_id, inst_account=O.u64(inst.column("account_id")),
                 inst_holder=O.u64(inst.column("holder_party_id")), inst_wallet=wallet)  # fmt: skip
        C.i05_overlay({"instrument": c["instrument"], "account": c["account"],
                       "party": c["party"], "device": c["device"], "ip": c["ip_id"],
                       "channel": c["channel"], "legit": legit}, e)  # fmt: skip
        clock = Clock(load_cache(ctx))
        party = _filtered(
            io, "s1_party_base_6A", ["party_id", "home_tzid"], {"party_id": c["party"]}
        )
        party = party.sort_by("party_id")
        p_id = party.column("party_id").to_numpy()
        p_tz = O.codes(party.column("home_tzid"), clock.tzids)
        c["tz"] = O.codes(t.column("tzid"), clock.tzids)
        C1.i06_clock(c, p_tz[np.minimum(np.searchsorted(p_id, c["party"]), max(p_id.size - 1, 0))],
                     h0, h_end, clock, -1)  # fmt: skip
    except EngineError as err:
        if err.state != "6B.S1":
            raise
        raise C.relabel(err) from None
    f = ov.fraud
    cols = {k: c[k][f] for k in ("instrument", "account", "party")}
    cols["merchant"] = O.u64(t.column("merchant_id")).take(f)
    eligible = {name: s2_pools.eligible(io, name) for name in s2_pools.TYPOLOGIES}
    C.i07_roles(ov.lab["typology"][f], {n: cols[k] for n, k in TARGET_COLUMN.items()},
                eligible, s2_pools.TYPOLOGIES)  # fmt: skip


def _entity_table(io, ov: O.Overlay) -> pa.Table:
    tg = io.read_table("s2_campaign_targets_6B", ["target_kind", "target_id", "target_role"])
    mule = (O.codes(tg.column("target_kind"), ["ACCOUNT"]) == 0) & (
        O.codes(tg.column("target_role"), MULE_ROLES) >= 0
    )
    ops = io.read_table("s5_operator_devices_6A", ["device_id"]).column(0).to_numpy()
    e = S.entity_labels(ov.entity_rows, ov.clusters, tg.column("target_id").to_numpy()[mule], ops)
    return X.table(
        {
            "entity_kind": (e["kind"], S.ENTITY_KINDS),
            "entity_id": e["id"],
            "label": (e["label"], S.ENTITY_LABELS),
            "first_fraud_ts": pa.array(e["first_ts"], W.TSU),
            "label_available_ts": pa.array(e["label_ts"], W.TSU, mask=e["label_ts"] < 0),
        },
        io.ctx.dictionary.arrow_schema_of("s3_entity_labels_6B"),
    )


def _budget(budget: dict, rate: float, n_legit: int, n_inject: int, fraud: dict) -> None:
    """I03: exactly F = round_half_even(r·(L + I)) fraud rows, per typology as realised."""
    if budget["L"] != n_legit or budget["I"] != n_inject:
        C.fail("I03", f"budget L={budget['L']}, I={budget['I']} but S1 has {n_legit} rows and "
               f"the overlay {n_inject} injected rows")  # fmt: skip
    total = sum(fraud.values())
    want = round_half_even(rate * (n_legit + n_inject))
    if total != budget["F"] or total != want:
        C.fail("I03", f"{total} fraud rows; budget F={budget['F']}, round(r·(L+I))={want}")
    bad = {t: (n, budget["realised"].get(t, 0)) for t, n in fraud.items()
           if n != budget["realised"].get(t, 0)}  # fmt: skip
    if bad:
        C.fail("I03", f"fraud rows per typology (final, realised) {bad}")


def run(ctx):
    io = open_state(ctx, STATE)
    receipt = io.read_json("s0_gate_receipt_6B")
    h0 = parse_utc(receipt["horizon_start_utc"]) * 1_000_000
    h_end = parse_utc(receipt["horizon_end_utc"]) * 1_000_000
    pol = S.LabelPolicy.of(io.policy("labels_6B"))
    budget = io.read_json("s2_budget_6B")
    camp = io.read_table("s2_campaigns_6B", ["campaign_id", "typology", "campaign_ordinal"])
    parts = io.parts("s1_legit_txns_6B")
    n_legit = _rows_of(parts)
    n_arrivals = _rows_of(sorted(io.path("arrival_events_5B", meta=True).glob("part-*.parquet")))
    n_parties = _rows_of(io.parts("s1_party_base_6A"))
    rng = StateRng(ctx, STATE, FAMILIES, DOMAIN_SEP)
    # no unit is above the largest injected ordinal: 4A + 80P + 2^20·(7·2^24)
    noise = S.Noise(rng.family("noise"), 4 * n_arrivals + 80 * n_parties + (7 << 44))
    raw, ov = O.prepare(io, ctx, rng, pol, camp, noise, n_arrivals, n_parties)
    overlay_checks(io, ctx, raw, ov, h0, h_end)
    del raw
    schemas = {d: ctx.dictionary.arrow_schema_of(d) for d in WINDOWED}
    tx_names = schemas["s3_transactions_6B"].names
    cols = tx_names + W.S1_EXTRA
    s1_full = ctx.dictionary.arrow_schema_of("s1_legit_txns_6B")
    cx = W.Context(ov, len(parts), pa.schema([s1_full.field(c) for c in cols]), schemas, noise, pol)
    sources = [W.s1_source(p, cols) for p in parts] + [W.inject_source(ov)]
    staged = {d: io.staged(d) for d in WINDOWED}
    total = n_legit + ov.inject_rows.size

    def work(w):
        r = W.assemble(w, cx)
        for d, key in zip(WINDOWED, ("txn", "labels", "prov"), strict=True):
            staged[d].write(w.index, r.pop(key))  # each worker encodes its own parts
        return r

    try:
        acc, fraud = _merge(ctx, cx, sources, parts, work, n_arrivals, total)
        if acc["rows"] != total:
            C.fail("I02", f"{acc['rows']} rows, L + I = {total}")
        per = {t: int(n) for t, n in zip(s2_pools.TYPOLOGIES, fraud, strict=True) if n}
        _budget(budget, float(receipt["fraud_rate"]), n_legit, int(ov.inject_rows.size), per)
        noise.trace()
        C.i10_trace(rng.ledger, {
            "6B.S3.report": 2 * ov.clusters.n,
            "6B.S3.noise": 2 * (acc["legit_cnp_purchases"] + acc["declined_fraud"]),
        })  # fmt: skip
    except BaseException:
        for st in staged.values():  # a failed state leaves no scratch parts behind
            shutil.rmtree(st.staged, ignore_errors=True)
        raise
    entities = _entity_table(io, ov)
    for d in WINDOWED:
        io.add(staged[d].publish(acc["rows"]))
    io.write("s3_entity_labels_6B", [entities])
    io.publish_ledger(rng.ledger)
    n_fraud = int(fraud.sum())
    return io.result(rows=acc["rows"], metadata={
        **acc, "fraud_rows": n_fraud, "clusters": ov.clusters.n,
        "clusters_reported": int(ov.clusters.reported.sum()),
        "observed_fraud_share": acc["observed_fraud"] / max(n_fraud, 1),
        "entity_labels": entities.num_rows,
    })  # fmt: skip


def _merge(ctx, cx: W.Context, sources, parts, work, n_arrivals: int, total: int):
    """Every window through ``work`` (on worker threads, results in window order); then
    I02: each 5B arrival once, each CONVERT/REBIND row placed once."""
    ov = cx.ov
    seen = np.zeros(n_arrivals, bool)
    matched = np.zeros(ov.n, np.int64)
    acc = {"rows": 0, "arrival_rows": 0, "injected": 0, "legit_cnp_purchases": 0,
           "declined_fraud": 0, "observed_fraud": 0, "false_disputes": 0, "windows": 0}  # fmt: skip
    fraud = np.zeros(len(s2_pools.TYPOLOGIES), np.int64)
    try:
        for r in ordered_map(work, KWayMerge(sources, WINDOW_ROWS).windows(), ctx.workers):
            a = r["arrivals"].astype(np.int64)
            if (a >= n_arrivals).any() or seen[a].any() or np.unique(a).size != a.size:
                C.fail("I02", "a 5B arrival appears more than once (or out of range)")
            seen[a] = True
            np.add.at(matched, r["replaced"], 1)
            fraud += r["fraud_by_typology"]
            for k in acc:
                acc[k] += r.get(k, 1 if k == "windows" else 0)
            if ctx.progress:
                ctx.progress(STATE, acc["rows"], total)
    except MergeOrderError as e:
        what = parts[e.run].name if e.run < len(parts) else "the INJECT run"
        raise EngineError("MERGE_ORDER_VIOLATION", STATE, f"{what}: {e}") from None
    O.check_cover(matched, ov)
    if acc["arrival_rows"] != n_arrivals or not seen.all():
        C.fail("I02", f"{acc['arrival_rows']} ARRIVAL rows for {n_arrivals} 5B arrivals")
    return acc, fraud
