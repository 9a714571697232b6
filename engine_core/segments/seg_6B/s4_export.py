"""6B.S4 — the ML-ready export (layer3 §4.5, RNG-free). ``s3_transactions_6B`` and its
row-aligned ``s3_labels_6B`` are streamed one window at a time; a window ends at 10^6 rows
or at a split boundary, so each output part is one single-split row group. Party, account,
instrument, device (incl. the S5 operator devices) and IP attributes are attached by
sorted-query joins (``s4_join.Lookup``), the window is projected to the whitelist and its
as-of labels written beside it; observable edges and split counts are merged in window
order, so bytes do not depend on the worker count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.parallel import ordered_map
from engine_core.segments.columns import codes_of
from engine_core.segments.seg_6B import checks_s4 as C
from engine_core.segments.seg_6B import s4_join as J
from engine_core.segments.seg_6B.s4_sort import unique_u64
from engine_core.segments.state_io import open_state
from engine_core.timeutil import parse_utc, utc_str

STATE = "6B.S4"
WINDOW_ROWS = 1_000_000  # ≤ the writer's row group, so one window is one row group
COMPACT_KEYS = 8_000_000  # edge keys buffered per type before a dedup pass
PASS = [
    "txn_id", "ts_utc", "ts_local", "tzid", "txn_type", "direction", "channel",
    "pos_entry_mode", "cnp_auth_method", "merchant_id", "mcc", "merchant_country_iso",
    "site_id", "terminal_id", "amount", "currency", "amount_usd", "account_currency",
    "is_cross_border", "auth_response_code", "is_approved", "party_id", "account_id",
    "instrument_id", "device_id", "ip_id", "counterparty_account_id",
    "counterparty_country_iso",
]  # fmt: skip
LABEL_COLUMNS = [
    "txn_id", "is_fraud", "fraud_typology", "campaign_id", "observed_is_fraud",
    "label_available_ts",
]  # fmt: skip
AGES = ("customer_tenure_days", "account_age_days", "card_age_days")


def _days(col) -> np.ndarray:
    return pc.cast(col, pa.int32()).to_numpy().astype(np.int64)


def _ids(col) -> np.ndarray:
    return pc.fill_null(col, 0).to_numpy().astype(np.uint64, copy=False)


def _valid(col) -> np.ndarray:
    return ~pc.is_null(col).to_numpy(zero_copy_only=False)


@dataclass
class World:
    """The 6A attributes S4 attaches, every column in its table's id order (join ranks
    index them directly), each table's ids behind a ``Lookup``."""

    party: J.Lookup
    account: J.Lookup
    inst: J.Lookup
    dev: J.Lookup
    ip: J.Lookup
    attrs: dict  # output column → (entity, Attr)
    since: dict  # age column → (entity, day numbers)
    a_owner: np.ndarray
    i_account: np.ndarray
    i_card: np.ndarray  # a card-like instrument (every type but TRANSFER_HANDLE)


def load_world(io) -> World:
    p = io.read_table(
        "s1_party_base_6A",
        ["party_id", "party_type", "segment_id", "country_iso", "customer_since"],
    )
    a = io.read_table(
        "s2_account_base_6A", ["account_id", "account_type", "open_date", "owner_party_id"]
    )
    i = io.read_table(
        "s3_instrument_base_6A",
        ["instrument_id", "instrument_type", "scheme", "bin6", "card_tier", "issue_date",
         "account_id"],
    )  # fmt: skip
    dcols = ["device_id", "device_type", "os_family"]
    # operator devices are extra device rows (same schema): the overlay puts them on rows
    d = pa.concat_tables(
        [io.read_table("s4_device_base_6A", dcols), io.read_table("s5_operator_devices_6A", dcols)]
    )
    ip = io.read_table("s4_ip_base_6A", ["ip_id", "ip_type", "asn_id", "ip_country_iso"])
    look = {
        "party": J.Lookup("s1_party_base_6A", p.column("party_id").to_numpy()),
        "account": J.Lookup("s2_account_base_6A", a.column("account_id").to_numpy()),
        "inst": J.Lookup("s3_instrument_base_6A", i.column("instrument_id").to_numpy()),
        "dev": J.Lookup(
            "s4_device_base_6A ∪ s5_operator_devices_6A", d.column("device_id").to_numpy()
        ),
        "ip": J.Lookup("s4_ip_base_6A", ip.column("ip_id").to_numpy()),
    }
    tabs = {"party": p, "account": a, "inst": i, "dev": d, "ip": ip}
    tabs = {k: look[k].sort(t) for k, t in tabs.items()}  # the device union is not sorted
    p, a, i = tabs["party"], tabs["account"], tabs["inst"]
    attrs = {
        "party_type": ("party", "party_type"),
        "segment_id": ("party", "segment_id"),
        "customer_country_iso": ("party", "country_iso"),
        "account_type": ("account", "account_type"),
        "instrument_type": ("inst", "instrument_type"),
        "card_scheme": ("inst", "scheme"),
        "bin6": ("inst", "bin6"),
        "card_tier": ("inst", "card_tier"),
        "device_type": ("dev", "device_type"),
        "os_family": ("dev", "os_family"),
        "ip_type": ("ip", "ip_type"),
        "ip_asn_id": ("ip", "asn_id"),
        "ip_country_iso": ("ip", "ip_country_iso"),
    }
    return World(
        **look,
        attrs={k: (e, J.Attr(tabs[e].column(c))) for k, (e, c) in attrs.items()},
        since={
            "customer_tenure_days": ("party", _days(p.column("customer_since"))),
            "account_age_days": ("account", _days(a.column("open_date"))),
            "card_age_days": ("inst", _days(i.column("issue_date"))),
        },
        a_owner=a.column("owner_party_id").to_numpy(),
        i_account=i.column("account_id").to_numpy(),
        i_card=codes_of(i.column("instrument_type"), ["TRANSFER_HANDLE"], missing=-1) != 0,
    )


def attach(w: World, t: pa.Table, ts: np.ndarray) -> tuple[dict, dict, dict]:
    """The derived columns of a window, its join ranks and its observable edge keys."""
    dev_ok, ip_ok = _valid(t.column("device_id")), _valid(t.column("ip_id"))
    rows = {
        "party": w.party.rows(_ids(t.column("party_id")), "party_id"),
        "account": w.account.rows(_ids(t.column("account_id")), "account_id"),
        "inst": w.inst.rows(_ids(t.column("instrument_id")), "instrument_id"),
        "dev": w.dev.rows(_ids(t.column("device_id")), "device_id", dev_ok),
        "ip": w.ip.rows(_ids(t.column("ip_id")), "ip_id", ip_ok),
    }
    cols = {k: a.take(rows[e]) for k, (e, a) in w.attrs.items()}
    clipped = {}
    for k, (e, since) in w.since.items():
        days, clipped[k] = J.age_days(ts, since[rows[e]])
        cols[k] = pa.array(days, pa.uint32())
    dev = rows["dev"]
    card = dev_ok & w.i_card[rows["inst"]]
    both = dev_ok & ip_ok
    keys = {
        "DEVICE_ACCOUNT": J.pair_keys(dev[dev_ok], rows["account"][dev_ok]),
        "DEVICE_CARD": J.pair_keys(dev[card], rows["inst"][card]),
        "DEVICE_IP": J.pair_keys(dev[both], rows["ip"][both]),
    }
    return cols, {"rows": rows, "clipped": clipped}, keys


class RowStream:
    """Rows of a dataset's parts in order, taken in exact counts (a window may span parts)."""

    def __init__(self, parts, columns):
        self._src = (
            b
            for p in parts
            for b in pq.ParquetFile(p).iter_batches(batch_size=1 << 20, columns=columns)
        )
        self._buf: list[pa.RecordBatch] = []
        self._have = 0

    def take(self, n: int) -> pa.Table | None:
        while self._have < n:
            b = next(self._src, None)
            if b is None:
                break
            if b.num_rows:
                self._buf.append(b)
                self._have += b.num_rows
        if not self._buf:
            return None
        t = pa.Table.from_batches(self._buf)
        head, rest = t.slice(0, n), t.slice(n)
        self._buf, self._have = rest.to_batches(), rest.num_rows
        return head

    def unread(self, t: pa.Table) -> None:
        self._buf = t.to_batches() + self._buf
        self._have += t.num_rows


def windows(txn: RowStream, lab: RowStream, sp: J.Split):
    """``(k, txn window, ts µs, label window)``: windows end at WINDOW_ROWS rows or at the
    next split boundary; labels are taken in the same counts (row alignment is checked by
    the window's worker)."""
    k, prev = 0, None
    while (t := txn.take(WINDOW_ROWS)) is not None and t.num_rows:
        ts = pc.cast(t.column("ts_utc"), pa.int64()).to_numpy()
        cut = J.window_cut(ts, sp, WINDOW_ROWS)
        if cut < t.num_rows:
            txn.unread(t.slice(cut))
            t, ts = t.slice(0, cut), ts[:cut]
        ids = t.column("txn_id").to_numpy()
        C.i01_window(ids, ts, k, prev)  # here: the previous window's last row is at hand
        prev = (int(ts[-1]), int(ids[-1]))
        lt = lab.take(cut)
        if lt is None:
            C.i09_aligned(ids, np.zeros(0, np.uint64), k)
        yield k, t, ts, lt
        k += 1
    if (rest := lab.take(1)) is not None and rest.num_rows:
        C.i09_aligned(np.zeros(0, np.uint64), rest.column("txn_id").to_numpy(), k)


def label_table(lt: pa.Table, split_code: int, sp: J.Split, schema: pa.Schema):
    la = lt.column("label_available_ts")
    ts = pc.fill_null(pc.cast(la, pa.int64()), 0).to_numpy()
    obs = lt.column("observed_is_fraud").to_numpy(zero_copy_only=False)
    ys = J.label_views(obs, ts, _valid(la), sp.cutoffs_us)
    cols = {
        "txn_id": lt.column("txn_id"),
        "split": J.coded_split(split_code, lt.num_rows),
        "is_fraud": lt.column("is_fraud"),
        "fraud_typology": lt.column("fraud_typology"),
        "campaign_id": lt.column("campaign_id"),
        "label_available_ts": la,
        "y_train_cutoff": pa.array(ys[0]),
        "y_valid_cutoff": pa.array(ys[1]),
        "y_final": pa.array(ys[2]),
    }
    return J.project(cols, schema, "ml_labels_6B"), ys


def run(ctx):
    io = open_state(ctx, STATE)
    pol = io.policy("ml_export_6B")
    receipt = io.read_json("s0_gate_receipt_6B")
    sp = J.split_bounds(
        parse_utc(receipt["horizon_start_utc"]), parse_utc(receipt["horizon_end_utc"]),
        pol["split"]["train_frac"], pol["split"]["valid_end_frac"], pol["maturity_days"],
    )  # fmt: skip
    w = load_world(io)
    d = ctx.dictionary
    ml_schema, lab_schema = (
        d.arrow_schema_of("ml_transactions_6B"),
        d.arrow_schema_of("ml_labels_6B"),
    )
    t_parts, l_parts = io.parts("s3_transactions_6B"), io.parts("s3_labels_6B")
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in t_parts)
    ml_out, lab_out = io.staged("ml_transactions_6B"), io.staged("ml_labels_6B")

    def window(item):
        k, t, ts, lt = item
        # written as read, without combine_chunks (a copy of every column): the chunking
        # follows the S3 parts and the fixed batch size, never the worker count
        ids = t.column("txn_id").to_numpy()
        C.i09_aligned(ids, lt.column("txn_id").to_numpy(), k)
        codes = J.assign_split(ts, sp)
        s = C.i09_split(codes, int(codes[0]), k)
        cols, info, keys = attach(w, t, ts)
        cols.update({c: t.column(c) for c in PASS})
        cols["split"] = J.coded_split(s, t.num_rows)
        ml_out.write(k, J.project(cols, ml_schema))
        labels, ys = label_table(lt, s, sp, lab_schema)
        lab_out.write(k, labels)
        fraud = int(np.count_nonzero(lt.column("is_fraud").to_numpy(zero_copy_only=False)))
        y = [int(np.count_nonzero(v)) for v in ys]
        stats = {"split": s, "rows": t.num_rows, "fraud": fraud, "y": y, "clipped": info["clipped"]}
        return stats, info["rows"], keys

    acc = Accumulator(w)
    for stats, rows, keys in ordered_map(
        window,
        windows(RowStream(t_parts, PASS), RowStream(l_parts, LABEL_COLUMNS), sp),
        ctx.workers,
    ):
        acc.add(stats, rows, keys)
        if ctx.progress:
            ctx.progress(STATE, acc.n_rows, total)
    edges = J.edge_table(acc.edge_blocks(), d.arrow_schema_of("ml_entity_edges_6B"))
    C.edges_sorted(edges)  # every in-state check ran before anything is published
    io.add(ml_out.publish(acc.n_rows))
    io.add(lab_out.publish(acc.n_rows))
    io.write("ml_entity_edges_6B", [edges])
    io.write_json("ml_split_manifest_6B", manifest(sp, acc, pol))
    return io.result(rows=acc.n_rows, metadata=acc.metadata(sp, edges))


class Accumulator:
    """Split counts, windows per split, seen accounts/cards and edge keys, merged in
    window order."""

    DST = {"DEVICE_ACCOUNT": "account", "DEVICE_CARD": "inst", "DEVICE_IP": "ip"}

    def __init__(self, w: World):
        self.w = w
        self.n_rows = 0
        self.split = {s: {"rows": 0, "fraud": 0, "y": [0, 0, 0], "groups": 0} for s in J.SPLITS}
        self.clipped = dict.fromkeys(AGES, 0)
        self.seen_acct = np.zeros(w.account.ids.size, bool)
        self.seen_inst = np.zeros(w.inst.ids.size, bool)
        self.keys: dict[str, list] = {k: [np.zeros(0, np.uint64)] for k in self.DST}
        self.buffered = dict.fromkeys(self.keys, 0)
        self.last, self.k = 0, 0  # split of the previous window, windows seen

    def add(self, stats: dict, rows: dict, keys: dict) -> None:
        # splits in time order across windows (each window's worker checked its own)
        self.last = C.i09_split(np.full(1, stats["split"]), self.last, self.k)
        self.k += 1
        s = self.split[J.SPLITS[stats["split"]]]
        s["rows"] += stats["rows"]
        s["fraud"] += stats["fraud"]
        s["y"] = [a + b for a, b in zip(s["y"], stats["y"], strict=True)]
        s["groups"] += 1
        self.n_rows += stats["rows"]
        for k, v in stats["clipped"].items():
            self.clipped[k] += v
        self.seen_acct[rows["account"]] = True
        self.seen_inst[rows["inst"]] = True
        for k, v in keys.items():
            self.keys[k].append(v)
            self.buffered[k] += v.size
            # dedup once the new keys outnumber the distinct ones so far: memory stays
            # O(distinct pairs) and every key is re-sorted O(log) times, not per window
            if self.buffered[k] > max(COMPACT_KEYS, self.keys[k][0].size):
                self.keys[k] = [self._merged(k)]
                self.buffered[k] = 0

    def _merged(self, k: str) -> np.ndarray:
        return unique_u64(np.concatenate(self.keys[k]))

    def edge_blocks(self) -> dict:
        """Device edges from rows; card → account and account → party for the cards and
        accounts seen on rows, from the 6A tables (the bank's own records). Every block
        comes out sorted by (src id, dst id)."""
        w, cards = self.w, self.seen_inst & self.w.i_card
        out = {k: J.key_ids(self._merged(k), w.dev, getattr(w, d)) for k, d in self.DST.items()}
        out["ACCOUNT_PARTY"] = (w.account.ids[self.seen_acct], w.a_owner[self.seen_acct])
        out["CARD_ACCOUNT"] = (w.inst.ids[cards], w.i_account[cards])
        return out

    def metadata(self, sp: J.Split, edges: pa.Table) -> dict:
        lines = [
            "| split | start | end | rows | row_groups | fraud_rows | y_train_cutoff "
            "| y_valid_cutoff | y_final |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        ends = [sp.h0, sp.b1, sp.b2, sp.h_end]
        for i, name in enumerate(J.SPLITS):
            s = self.split[name]
            lines.append(
                f"| {name} | {utc_str(ends[i])} | {utc_str(ends[i + 1])} | {s['rows']} | "
                f"{s['groups']} | {s['fraud']} | {s['y'][0]} | {s['y'][1]} | {s['y'][2]} |"
            )
        et = pc.value_counts(edges.column("edge_type").combine_chunks().cast(pa.string()))
        n_edges = {str(r["values"]): int(r["counts"]) for r in et.to_pylist()}
        return {
            "rows": self.n_rows,
            **{f"rows_{k}": v["rows"] for k, v in self.split.items()},
            "splits_md": "\n".join(lines),
            "edges": int(edges.num_rows),
            **{f"edges_{k}": n_edges.get(k, 0) for k in J.EDGE_TYPES},
            **{f"age_clipped_{k}": v for k, v in self.clipped.items() if v},
        }


def manifest(sp: J.Split, acc: Accumulator, pol: dict) -> dict:
    ends = [sp.h0, sp.b1, sp.b2, sp.h_end]
    cut = {"train_cutoff": sp.b1, "valid_cutoff": sp.b2, "final_cutoff": sp.final}
    return {
        "boundaries": {
            name: {"start": utc_str(ends[i]), "end": utc_str(ends[i + 1])}
            for i, name in enumerate(J.SPLITS)
        }
        | {
            "train_frac": pol["split"]["train_frac"],
            "valid_end_frac": pol["split"]["valid_end_frac"],
        },
        "cutoffs": {k: utc_str(v) for k, v in cut.items()}
        | {"maturity_days": pol["maturity_days"]},
        "splits": {
            name: {
                "rows": s["rows"],
                "row_groups": s["groups"],
                "fraud_rows": s["fraud"],
                "observed_fraud": dict(zip(cut, s["y"], strict=True)),
            }
            for name, s in acc.split.items()
        },
    }
