"""6B.S3 label laws (layer3 §4.4 steps 2–4), vectorised over arrays.

* Clusters are the ``(campaign, cluster_key)`` pairs of fraud rows — a cardholder or an
  account holder reports all of a cluster at once. Per cluster, family ``6B.S3.report``
  (domain key ``{typology}|{campaign_ordinal}``, unit = ``cluster_key``, stride 1): word 0 →
  reported with ``p[t]``; word 1 → AS241 normal z, delay ``median[t]·exp(sigma[t]·z)`` days
  capped at ``cap[t]``; ``label_available_ts = anchor + delay`` with the anchor the latest
  approved fraud row of the cluster (the latest row if none was approved: a declined-only
  cluster is noticed from its attempts).
* Declined fraud rows of a reported cluster are labelled with ``p_report_declined`` from
  word 0 of their ``txn_index`` unit of ``6B.S3.noise`` (domain key ``rows``). Their
  availability is ``max(cluster availability, ts_utc)``: an attempt made after the report
  (a blocked card is declined) is known the moment it happens, never before (I08).
* Label noise: an approved legit CNP purchase is a false dispute with ``p_false_dispute``
  (word 0 of its unit), delay from word 1: ``25·exp(0.6·z)`` days capped at 120.
* Entity labels (step 4): the entities that took part in fraud, with their first fraud
  time and the earliest availability of the reported clusters they took part in.

Delays are whole microseconds, ``floor(days · 86 400 · 10^6)`` (exact below 2^53, so the
cap holds to the microsecond). Transcendentals come from ``rng.detmath`` (same bits on every
machine)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from engine_core.kernels.runs import run_offsets
from engine_core.kernels.sorting import lex_order
from engine_core.rng.detmath import exp
from engine_core.rng.samplers import as241
from engine_core.rng.streams import ctr_add
from engine_core.rng.uniform import uniform01
from engine_core.rng.units import slot_words_nb
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

STATE = "6B.S3"
DAY_US = 86_400_000_000
STAGES = (
    "CARD_TEST", "CNP_SPREE", "COMPROMISE", "CP_CASHOUT", "ATO_TRANSFER", "ATO_PURCHASE",
    "MULE_INBOUND", "MULE_LAYERING", "MULE_CASHOUT", "BUSTOUT_SPEND", "BUSTOUT_CASH",
    "COLLUSION_SALE", "COLLUSION_REFUND",
)  # fmt: skip
CHANNELS = (
    "CHARGEBACK", "CUSTOMER_REPORT", "ISSUER_CONFIRMED", "INVESTIGATION", "CHARGE_OFF",
    "FALSE_DISPUTE",
)  # fmt: skip
FALSE_DISPUTE = CHANNELS.index("FALSE_DISPUTE")
FALSE_DISPUTE_LAW = (25.0, 0.6, 120.0)  # median days, sigma, cap days (§4.4 step 3)
# entity labels: vocabularies in string order, so code order is the writer's sort order
ENTITY_KINDS = ("ACCOUNT", "DEVICE", "INSTRUMENT", "MERCHANT", "PARTY")
ENTITY_LABELS = (
    "ATO_VICTIM", "CARD_USED_BY_FRAUDSTER", "COLLUSIVE_MERCHANT_ACTIVE", "MULE_ACTIVE",
    "OPERATOR_DEVICE", "SYNTHETIC_BUSTOUT",
)  # fmt: skip
CARD_TYPOLOGIES = ("CARD_TESTING", "STOLEN_CARD_CNP", "STOLEN_CARD_CP")
T = {t: i for i, t in enumerate(TYPOLOGIES)}


@dataclass(frozen=True)
class LabelPolicy:
    """``labels_6B`` as arrays indexed by typology code (canonical typology order)."""

    p: np.ndarray
    median: np.ndarray
    sigma: np.ndarray
    cap: np.ndarray
    channel: np.ndarray  # report channel code per typology
    p_declined: float
    p_false: float

    @classmethod
    def of(cls, doc: dict) -> LabelPolicy:
        rep = doc["report"]
        col = lambda k: np.array([float(rep[t][k]) for t in TYPOLOGIES])  # noqa: E731
        return cls(
            col("p"), col("median"), col("sigma"), col("cap"),
            np.array([CHANNELS.index(rep[t]["channel"]) for t in TYPOLOGIES]),
            float(doc["p_report_declined"]), float(doc["p_false_dispute"]),
        )  # fmt: skip


def delay_us(word, median, sigma, cap) -> np.ndarray:
    """``floor(min(median·exp(sigma·z), cap) days)`` in µs, z = AS241(U(word))."""
    z = as241(uniform01(word))
    days = np.minimum(np.asarray(median) * exp(np.asarray(sigma) * z), cap)
    return np.floor(days * DAY_US).astype(np.int64)


def _pair_words(keys, his, los, stream, unit):
    """Words 0 and 1 of unit ``unit[i]`` (stride 1) of stream ``stream[i]``."""
    unit = np.ascontiguousarray(unit, np.uint64)
    stream = np.ascontiguousarray(stream, np.int64)
    w0 = slot_words_nb(keys, his, los, stream, unit, np.zeros(unit.size, np.int64), 1)
    w1 = slot_words_nb(keys, his, los, stream, unit, np.ones(unit.size, np.int64), 1)
    return w0, w1


class Noise:
    """Family ``6B.S3.noise``: one stream (domain key ``rows``), unit = ``txn_index``. Units
    are drawn from worker threads window by window; the one trace event (blocks = largest
    unit + 1, draws = 2 per unit) is recorded by ``trace()`` once every unit was drawn."""

    def __init__(self, family, max_unit: int):
        self.family = family
        self.stream = family.stream("rows")
        key, hi, lo = self.stream
        ctr_add(hi, lo, int(max_unit), family.state)  # RNG_COUNTER_WRAP before any use
        self.arrays = tuple(np.array([v], np.uint64) for v in self.stream)
        self.units, self.top = 0, -1
        self._lock = threading.Lock()

    def words(self, units) -> tuple[np.ndarray, np.ndarray]:
        units = np.asarray(units, np.uint64)
        if units.size:
            with self._lock:  # counts and maxima do not depend on window order
                self.units += units.size
                self.top = max(self.top, int(units.max()))
        return _pair_words(*self.arrays, np.zeros(units.size, np.int64), units)

    def trace(self) -> None:
        self.family.trace(self.stream, blocks=self.top + 1, draws=2 * self.units)


def false_disputes(noise: Noise, txn_index, ts, p_false: float):
    """Of the approved legit CNP purchases ``txn_index`` at ``ts``: which are disputed and
    when the dispute is known."""
    w0, w1 = noise.words(txn_index)
    hit = uniform01(w0) < p_false
    m, s, cap = FALSE_DISPUTE_LAW
    return hit, np.asarray(ts, np.int64) + delay_us(w1, m, s, cap)


@dataclass
class Clusters:
    row: np.ndarray  # cluster of each fraud row
    campaign: np.ndarray  # campaign row per cluster
    key: np.ndarray  # cluster_key per cluster
    typology: np.ndarray  # typology code per cluster
    anchor: np.ndarray  # µs
    reported: np.ndarray  # bool
    delay: np.ndarray  # µs (drawn for every cluster)
    label_ts: np.ndarray  # anchor + delay (meaningful where reported)

    @property
    def n(self) -> int:
        return int(self.key.size)


def clusters(report_family, camp_typology, camp_ordinal, campaign, key, ts, approved, pol):
    """The clusters of the fraud rows (``campaign``: campaign row, ``key``: cluster_key) and
    their report draws; one trace event per campaign with a cluster."""
    campaign = np.asarray(campaign, np.int64)
    key = np.asarray(key, np.uint64)
    ts = np.asarray(ts, np.int64)
    approved = np.asarray(approved, bool)
    o = lex_order(campaign, key)
    sc, sk = campaign[o], key[o]
    first = np.flatnonzero(np.r_[True, (sc[1:] != sc[:-1]) | (sk[1:] != sk[:-1])][: sc.size])
    starts = np.r_[first, sc.size]
    n_cl = first.size
    row = np.empty(campaign.size, np.int64)
    row[o] = np.repeat(np.arange(n_cl), np.diff(starts))
    c_camp, c_key = campaign[o][first], key[o][first]
    lo = np.iinfo(np.int64).min
    if n_cl:
        top_ok = np.maximum.reduceat(np.where(approved, ts, lo)[o], first)
        top_all = np.maximum.reduceat(ts[o], first)
    else:
        top_ok = top_all = np.zeros(0, np.int64)
    anchor = np.where(top_ok > lo, top_ok, top_all)
    typ = np.asarray(camp_typology, np.int64)[c_camp]
    # one stream per campaign: the campaign's clusters are units 0 … max key
    cs = run_offsets(c_camp)
    heads = cs[:-1]
    names = [f"{TYPOLOGIES[typ[h]]}|{int(camp_ordinal[c_camp[h]])}" for h in heads]
    w0 = w1 = np.zeros(0, np.uint64)
    if names:
        kk, hh, ll = report_family.prefix.derive_many(names)
        n_per = np.diff(cs)
        top = np.maximum.reduceat(c_key, heads)
        for i in range(len(names)):  # one event per campaign (RNG_COUNTER_WRAP checked here)
            report_family.trace(
                (int(kk[i]), int(hh[i]), int(ll[i])),
                blocks=int(top[i]) + 1,
                draws=2 * int(n_per[i]),
            )
        w0, w1 = _pair_words(kk, hh, ll, np.repeat(np.arange(len(names)), n_per), c_key)
    reported = uniform01(w0) < pol.p[typ]
    delay = delay_us(w1, pol.median[typ], pol.sigma[typ], pol.cap[typ])
    return Clusters(row, c_camp, c_key, typ, anchor, reported, delay, anchor + delay)


@dataclass
class RowLabels:
    observed: np.ndarray
    channel: np.ndarray  # report channel code, −1 where not observed
    label_ts: np.ndarray  # µs, meaningful where observed


def fraud_rows(cl: Clusters, noise: Noise, txn_index, ts, approved, pol) -> RowLabels:
    """Observed flag, channel and availability of the fraud rows (same order as given to
    :func:`clusters`). Every declined fraud row draws its noise unit (the trace formula
    counts them all); only those of reported clusters can be observed."""
    ts = np.asarray(ts, np.int64)
    approved = np.asarray(approved, bool)
    declined = ~approved
    w0, _ = noise.words(np.asarray(txn_index, np.uint64)[declined])
    seen_declined = np.zeros(ts.size, bool)
    seen_declined[declined] = uniform01(w0) < pol.p_declined
    observed = cl.reported[cl.row] & (approved | seen_declined)
    label_ts = np.maximum(cl.label_ts[cl.row], ts)
    channel = np.where(observed, pol.channel[cl.typology[cl.row]], -1)
    return RowLabels(observed, channel, label_ts)


def entity_labels(rows: dict, cl: Clusters, mule_accounts, operator_devices) -> dict:
    """Step 4 over the fraud rows. ``rows``: ``typology`` code, ``ts``, and the id columns
    ``party, account, instrument, device, merchant, counterparty`` (0 = null); ``cl.row``
    gives each row's cluster. ``mule_accounts``: accounts that are campaign mule targets;
    ``operator_devices``: 6A operator device ids. Returns columns sorted by
    ``(kind, id, label)``: ``kind``, ``label`` codes, ``id``, ``first_ts``, ``label_ts``
    (−1: none of the entity's clusters reported)."""
    typ = rows["typology"]
    avail = np.where(cl.reported[cl.row], cl.label_ts[cl.row], -1)
    K = {k: i for i, k in enumerate(ENTITY_KINDS)}
    L = {k: i for i, k in enumerate(ENTITY_LABELS)}
    mule = typ == T["MULE_MONEY_MOVEMENT"]
    cp = rows["counterparty"]
    cp_mule = np.isin(cp, np.asarray(mule_accounts, np.uint64)) & (cp != 0)
    dev = rows["device"]
    op = np.isin(dev, np.asarray(operator_devices, np.uint64)) & (dev != 0)
    cards = np.isin(typ, [T[t] for t in CARD_TYPOLOGIES])
    picks = [  # (row mask, id column, kind, label)
        (mule, rows["account"], "ACCOUNT", "MULE_ACTIVE"),
        (cp_mule, cp, "ACCOUNT", "MULE_ACTIVE"),
        (typ == T["FIRST_PARTY_BUST_OUT"], rows["party"], "PARTY", "SYNTHETIC_BUSTOUT"),
        (cards, rows["instrument"], "INSTRUMENT", "CARD_USED_BY_FRAUDSTER"),
        (typ == T["ACCOUNT_TAKEOVER"], rows["party"], "PARTY", "ATO_VICTIM"),
        (op, dev, "DEVICE", "OPERATOR_DEVICE"),
        (typ == T["MERCHANT_COLLUSION"], rows["merchant"], "MERCHANT", "COLLUSIVE_MERCHANT_ACTIVE"),
    ]
    kind, label, ids, first, lab = [], [], [], [], []
    for mask, col, k, lb in picks:
        mask = mask & (col != 0)
        kind.append(np.full(int(mask.sum()), K[k]))
        label.append(np.full(int(mask.sum()), L[lb]))
        ids.append(np.asarray(col, np.uint64)[mask])
        first.append(rows["ts"][mask])
        lab.append(avail[mask])
    kind, label = np.concatenate(kind).astype(np.int64), np.concatenate(label).astype(np.int64)
    ids, first, lab = np.concatenate(ids), np.concatenate(first), np.concatenate(lab)
    o = lex_order(kind, ids, label)
    kind, label, ids, first, lab = kind[o], label[o], ids[o], first[o], lab[o]
    if not ids.size:
        z = np.zeros(0, np.int64)
        return {"kind": z, "label": z, "id": ids, "first_ts": z, "label_ts": z}
    new = np.r_[True, (kind[1:] != kind[:-1]) | (ids[1:] != ids[:-1]) | (label[1:] != label[:-1])]
    g = np.flatnonzero(new)
    big = np.iinfo(np.int64).max
    earliest = np.minimum.reduceat(np.where(lab >= 0, lab, big), g)
    return {
        "kind": kind[g],
        "label": label[g],
        "id": ids[g],
        "first_ts": np.minimum.reduceat(first, g),
        "label_ts": np.where(earliest < big, earliest, -1),
    }


__all__ = [
    "CHANNELS", "ENTITY_KINDS", "ENTITY_LABELS", "STAGES", "Clusters", "LabelPolicy", "Noise",
    "RowLabels", "clusters", "delay_us", "entity_labels", "false_disputes", "fraud_rows",
]  # fmt: skip
