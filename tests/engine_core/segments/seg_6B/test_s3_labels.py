"""6B.S3 label laws (layer3 §4.4 steps 2–4) on synthetic fraud rows: report share vs
p_report, delay median vs policy median, caps, availability never before the row, the
declined-row and false-dispute rates, anchors, entity labels, trace counts and
determinism (counter-addressed: a unit's draws do not depend on the others)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

ROOT = Path(__file__).resolve().parents[4]
DOC = yaml.safe_load((ROOT / "policies/6B/labels.yaml").read_text())
POL = S.LabelPolicy.of(DOC)
DAY = S.DAY_US
T0 = 1_700_000_000_000_000


def _rng(seed=42):
    ctx = SimpleNamespace(mf="ab" * 32, ph="cd" * 32, seed=seed, scenario_id="baseline", workers=1)
    return StateRng(ctx, "6B.S3", FAMILIES, "fw.l3.v1")


def _world(n_camp, per_camp, typ, rows_per_cluster=1, approved=True, seed=42, pol=POL):
    """``n_camp`` campaigns of typology ``typ`` with ``per_camp`` clusters each."""
    rng = _rng(seed)
    camp_typ = np.full(n_camp, TYPOLOGIES.index(typ))
    camp_ord = np.arange(n_camp)
    campaign = np.repeat(np.arange(n_camp), per_camp * rows_per_cluster)
    key = np.tile(np.repeat(np.arange(per_camp), rows_per_cluster), n_camp).astype(np.uint64)
    n = campaign.size
    ts = T0 + np.arange(n, dtype=np.int64) * 1_000_000
    ok = np.broadcast_to(approved, (n,)).copy()
    cl = S.clusters(rng.family("report"), camp_typ, camp_ord, campaign, key, ts, ok, pol)
    return rng, cl, ts, ok


@pytest.mark.parametrize("typ", ["ACCOUNT_TAKEOVER", "MULE_MONEY_MOVEMENT", "CARD_TESTING"])
def test_report_share_and_delay_median_follow_the_policy(typ):
    t = TYPOLOGIES.index(typ)
    _, cl, _, _ = _world(40, 500, typ)
    n, p = cl.n, POL.p[t]
    share = cl.reported.mean()
    assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n)
    days = cl.delay / DAY
    assert (days <= POL.cap[t]).all() and (days > 0).all()
    # the sample median of log-delay has s.e. ≈ 1.2533·σ/√n
    assert abs(np.log(np.median(days)) - np.log(POL.median[t])) < 4 * 1.2533 * POL.sigma[
        t
    ] / np.sqrt(n)
    assert np.array_equal(cl.label_ts, cl.anchor + cl.delay)


def test_the_cap_binds_exactly():
    doc = yaml.safe_load(yaml.safe_dump(DOC))
    doc["report"]["ACCOUNT_TAKEOVER"].update(median=3, sigma=0.9, cap=4)
    pol = S.LabelPolicy.of(doc)
    _, cl, _, _ = _world(10, 1000, "ACCOUNT_TAKEOVER", pol=pol)
    assert cl.delay.max() == 4 * DAY
    # P(LN(3, 0.9) > 4 days) = P(z > ln(4/3)/0.9) ≈ 0.374
    assert 0.33 < (cl.delay == 4 * DAY).mean() < 0.42


def test_anchor_is_the_latest_approved_row_else_the_latest_row():
    rng = _rng()
    campaign = np.array([0, 0, 0, 1, 1])
    key = np.array([3, 3, 3, 0, 0], np.uint64)
    ts = np.array([10, 50, 30, 7, 9], np.int64) * DAY
    ok = np.array([True, False, True, False, False])
    cl = S.clusters(rng.family("report"), [3, 3], [0, 1], campaign, key, ts, ok, POL)
    assert cl.n == 2 and cl.anchor.tolist() == [30 * DAY, 9 * DAY]
    assert cl.row.tolist() == [0, 0, 0, 1, 1] and cl.key.tolist() == [3, 0]
    tr = rng.ledger.totals()["6B.S3.report"]
    assert tr["draws"] == 4 and tr["events"] == 2 and tr["blocks"] == 4 + 1  # keys 0…3, 0


def test_declined_rows_of_reported_clusters_and_availability_after_the_row():
    """A cluster of 1 approved row then 200 declined attempts spread over 40 days: about
    p_report_declined of the declined rows are observed, none before it happened."""
    rng = _rng()
    n_cl, per = 300, 201
    campaign = np.zeros(n_cl * per, np.int64)
    key = np.repeat(np.arange(n_cl), per).astype(np.uint64)
    ts = T0 + np.tile(np.arange(per, dtype=np.int64) * (DAY // 5), n_cl)
    ok = np.tile(np.r_[True, np.zeros(per - 1, bool)], n_cl)
    cl = S.clusters(rng.family("report"), [3], [0], campaign, key, ts, ok, POL)
    idx = np.arange(ts.size, dtype=np.uint64) * np.uint64(4)
    noise = S.Noise(rng.family("noise"), int(idx.max()))
    rl = S.fraud_rows(cl, noise, idx, ts, ok, POL)
    rep = cl.reported[cl.row]
    assert (rl.observed[ok] == rep[ok]).all()  # approved rows of reported clusters
    assert not rl.observed[~rep].any()
    dec = ~ok & rep
    share = rl.observed[dec].mean()
    assert abs(share - POL.p_declined) < 4 * np.sqrt(0.25 / dec.sum())
    assert (rl.label_ts[rl.observed] >= ts[rl.observed]).all()
    late = rl.observed & (ts > cl.label_ts[cl.row])
    assert late.any() and (rl.label_ts[late] == ts[late]).all()
    assert (rl.channel[rl.observed] == S.CHANNELS.index("CUSTOMER_REPORT")).all()
    assert (rl.channel[~rl.observed] == -1).all()
    noise.trace()
    assert rng.ledger.totals()["6B.S3.noise"]["draws"] == 2 * int((~ok).sum())


def test_false_disputes_rate_delay_and_cap():
    rng = _rng()
    n = 400_000
    idx = np.arange(n, dtype=np.uint64) * np.uint64(4)
    ts = np.full(n, T0, np.int64)
    noise = S.Noise(rng.family("noise"), int(idx.max()))
    hit, when = S.false_disputes(noise, idx, ts, 0.05)
    assert abs(hit.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    days = (when - ts) / DAY
    assert days.max() <= 120 and days.min() > 0
    assert abs(np.log(np.median(days)) - np.log(25)) < 0.01
    # the policy rate: 0.0004 → ≈ 160 of 400 000
    hit2, _ = S.false_disputes(noise, idx, ts, POL.p_false)
    assert abs(hit2.sum() - 0.0004 * n) < 4 * np.sqrt(0.0004 * n)
    assert (hit2 <= hit).all()  # same word 0: a smaller p picks a subset
    noise.trace()
    assert rng.ledger.totals()["6B.S3.noise"]["draws"] == 2 * 2 * n


def test_draws_are_counter_addressed_and_deterministic():
    _, a, _, _ = _world(3, 50, "STOLEN_CARD_CNP")
    _, b, _, _ = _world(3, 50, "STOLEN_CARD_CNP")
    assert np.array_equal(a.reported, b.reported) and np.array_equal(a.delay, b.delay)
    _, c, _, _ = _world(3, 50, "STOLEN_CARD_CNP", seed=43)
    assert not np.array_equal(a.delay, c.delay)
    # a unit's words do not depend on which other units are drawn, nor their order
    rng = _rng()
    noise = S.Noise(rng.family("noise"), 10**6)
    w_all = noise.words(np.arange(1000, dtype=np.uint64))
    w_some = noise.words(np.array([999, 7, 500], np.uint64))
    assert np.array_equal(w_some[0], w_all[0][[999, 7, 500]])
    assert np.array_equal(w_some[1], w_all[1][[999, 7, 500]])
    # clusters given in any row order get the same draws
    rng2 = _rng()
    camp = np.repeat(np.arange(3), 50)
    key = np.tile(np.arange(50), 3).astype(np.uint64)
    ts = T0 + np.arange(150, dtype=np.int64)
    p = np.random.default_rng(0).permutation(150)
    d = S.clusters(rng2.family("report"), [1, 1, 1], [0, 1, 2], camp[p], key[p], ts[p],
                   np.ones(150, bool), POL)  # fmt: skip
    assert np.array_equal(d.delay, a.delay) and np.array_equal(d.reported, a.reported)


def test_entity_labels():
    rng = _rng()
    T = {t: i for i, t in enumerate(TYPOLOGIES)}
    names = ["MULE_MONEY_MOVEMENT", "MULE_MONEY_MOVEMENT", "ACCOUNT_TAKEOVER", "STOLEN_CARD_CNP",
             "FIRST_PARTY_BUST_OUT", "MERCHANT_COLLUSION"]  # fmt: skip
    typ = np.array([T[n] for n in names])
    campaign = np.arange(6)
    key = np.zeros(6, np.uint64)
    ts = T0 + np.arange(6, dtype=np.int64) * DAY
    cl = S.clusters(
        rng.family("report"), typ, np.arange(6), campaign, key, ts, np.ones(6, bool), POL
    )
    u = lambda *v: np.array(v, np.uint64)  # noqa: E731
    rows = {
        "typology": typ, "ts": ts,
        "party": u(1, 1, 2, 3, 4, 5), "account": u(11, 11, 12, 13, 14, 15),
        "instrument": u(21, 21, 22, 23, 24, 25), "device": u(0, 31, 32, 0, 0, 0),
        "merchant": u(0, 0, 0, 41, 42, 43), "counterparty": u(12, 99, 11, 0, 0, 0),
    }  # fmt: skip
    e = S.entity_labels(rows, cl, mule_accounts=u(11, 12), operator_devices=u(31))
    got = [(S.ENTITY_KINDS[k], int(i), S.ENTITY_LABELS[lb])
           for k, i, lb in zip(e["kind"], e["id"], e["label"], strict=True)]  # fmt: skip
    assert got == [
        ("ACCOUNT", 11, "MULE_ACTIVE"), ("ACCOUNT", 12, "MULE_ACTIVE"),
        ("DEVICE", 31, "OPERATOR_DEVICE"), ("INSTRUMENT", 23, "CARD_USED_BY_FRAUDSTER"),
        ("MERCHANT", 43, "COLLUSIVE_MERCHANT_ACTIVE"), ("PARTY", 2, "ATO_VICTIM"),
        ("PARTY", 4, "SYNTHETIC_BUSTOUT"),
    ]  # fmt: skip
    # account 11: payer of the mule rows 0, 1 and the mule target of the ATO row 2;
    # account 12: mule target of row 0 only (its own ATO row is not mule activity)
    assert e["first_ts"][0] == ts[0] and e["first_ts"][1] == ts[0]
    rep = np.where(cl.reported, cl.label_ts, -1)
    earliest = lambda r: min([x for x in r if x >= 0], default=-1)  # noqa: E731
    assert e["label_ts"][0] == earliest(rep[[0, 1, 2]]) and e["label_ts"][1] == earliest(rep[[0]])
    assert e["label_ts"][6] == rep[4]
