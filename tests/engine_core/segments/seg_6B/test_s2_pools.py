"""6B.S2 target pools (layer3 §4.3 step 1): an Efraimidis order of the eligible targets that
does not depend on input order, consumption without replacement with counted wraps, the 6A
role each typology draws from, and POOL_EMPTY outside tiny."""

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from engine_core.errors import EngineError
from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B import s2_pools as P
from engine_core.segments.seg_6B.families import FAMILIES


def _rng():
    ctx = SimpleNamespace(mf="ab" * 32, ph="cd" * 32, seed=42, scenario_id="baseline", workers=1)
    return StateRng(ctx, "6B.S2", FAMILIES, "fw.l3.v1")


def test_order_is_a_permutation_independent_of_input_order():
    ids = np.random.default_rng(1).choice(2**40, 5000, replace=False).astype(np.uint64)
    a = P.order_pool(_rng(), "ACCOUNT_TAKEOVER", ids)
    b = P.order_pool(_rng(), "ACCOUNT_TAKEOVER", ids[::-1].copy())
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(np.sort(a.ids), np.sort(ids))
    # a uniform random order: the rank of the smallest ids is uniform over positions
    pos = np.argsort(a.ids)[np.argsort(np.sort(ids))][:2000]
    assert stats.kstest(pos / ids.size, "uniform").pvalue > 1e-3
    other = P.order_pool(_rng(), "CARD_TESTING", ids)  # another stream per typology
    assert not np.array_equal(other.ids, a.ids)


def test_takes_consume_without_replacement_and_count_wraps():
    pool = P.Pool("X", np.arange(10, dtype=np.uint64))
    assert pool.take(4).tolist() == [0, 1, 2, 3]
    assert pool.take(6).tolist() == [4, 5, 6, 7, 8, 9] and pool.wraps == 0
    assert pool.take(3).tolist() == [0, 1, 2] and pool.wraps == 1
    assert pool.take(25).size == 25 and pool.wraps == 3  # 7 to the end, 10, then 8
    with pytest.raises(EngineError, match="POOL_EMPTY"):
        P.Pool("MERCHANT_COLLUSION", np.zeros(0, np.uint64)).take(1)


def test_eligibility_follows_the_6a_role_and_exposure():
    cc = "COMPROMISED_CARD"
    t = pa.table(
        {
            "instrument_id": pa.array([5, 3, 9, 7], pa.uint64()),
            "fraud_role": pa.array([cc, cc, "MULE_CARD", cc]).dictionary_encode(),
            "exposure_channel": pa.array(
                ["DATA_BREACH", "SKIMMING", None, "DATA_BREACH"]
            ).dictionary_encode(),
        }
    )
    io = SimpleNamespace(read_table=lambda ds, cols=None: t.select(cols))
    assert P.eligible(io, "STOLEN_CARD_CNP").tolist() == [5, 7]
    assert P.eligible(io, "STOLEN_CARD_CP").tolist() == [3]


def test_an_empty_pool_fails_outside_tiny_and_is_skipped_in_tiny():
    empty = {
        "fraud_role": pa.array([], pa.string()),
        "exposure_channel": pa.array([], pa.string()),
    }
    cols = {"instrument_id", "account_id", "party_id", "merchant_id"}
    tables = {c: pa.table({c: pa.array([], pa.uint64()), **empty}) for c in cols}
    io = SimpleNamespace(read_table=lambda ds, cols=None: tables[cols[0]].select(cols))
    shares = {t: 1 / 7 for t in P.TYPOLOGIES}
    _, skipped = P.pools(io, _rng(), shares, "tiny")
    assert skipped == P.TYPOLOGIES
    with pytest.raises(EngineError, match=r"6B.S2.POOL_EMPTY: CARD_TESTING: no COMPROMISED_CARD"):
        P.pools(io, _rng(), shares, "small")
