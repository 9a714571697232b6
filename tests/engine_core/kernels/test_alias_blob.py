"""Alias blob layout v1: round trip, exact dyadic probabilities, tamper detection."""

import numpy as np
import pytest

from engine_core.errors import EngineError
from engine_core.kernels import alias_blob
from engine_core.rng.alias import ONE32, alias_build_batch_nb, build_alias_table


def make(seed=0, tables=50):
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 12, tables)
    off = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    w = rng.gamma(0.8, size=int(n.sum())) + 1e-3
    q, alias, ok = alias_build_batch_nb(w, off)
    assert ok.all()
    merchant = rng.integers(1, 2**63, tables, dtype=np.uint64) * np.uint64(2)
    subkey = np.array([alias_blob.site_subkey(f"Zone/{i}") for i in range(tables)], dtype=np.uint64)
    entity = rng.integers(1, 2**63, int(n.sum()), dtype=np.uint64) + np.uint64(2**63)
    return n, merchant, subkey, entity, q, alias, w, off


def test_round_trip_and_exact_probabilities():
    n, merchant, subkey, entity, q, alias, w, off = make()
    blob, offsets = alias_blob.encode(alias_blob.SITE, n, merchant, subkey, entity, q, alias)
    assert blob[:4] == b"L1AB" and len(blob) % 8 == 0 and np.all(offsets % 8 == 0)
    assert int.from_bytes(blob[24:32], "little") == len(blob)
    back = alias_blob.decode(blob)
    assert np.array_equal(back.n, n) and np.array_equal(back.merchant, merchant)
    assert np.array_equal(back.subkey, subkey) and np.array_equal(back.entity, entity)
    assert np.array_equal(back.q(), q) and np.array_equal(back.alias, alias)
    assert np.array_equal(back.offsets, offsets)
    # each table equals the single-table builder (same integer law)
    for t in range(3):
        single = build_alias_table(np.arange(n[t]), w[off[t] : off[t + 1]])
        assert np.array_equal(single.q, q[off[t] : off[t + 1]])
    # every prob is exactly q / 2^32
    assert np.all(back.prob * ONE32 == back.q().astype(np.float64))


@pytest.mark.parametrize("flip", [0, 5, 8, 30, 70, -3])
def test_tampered_blobs_are_rejected(flip):
    n, merchant, subkey, entity, q, alias, *_ = make(1, 5)
    blob, _ = alias_blob.encode(alias_blob.SITE, n, merchant, subkey, entity, q, alias)
    b = bytearray(blob)
    if flip == 70:
        b[64] ^= 0x7F  # first table's n
    elif flip == -3:
        b = b[:-8]  # truncated
    else:
        b[flip] ^= 0x01
    with pytest.raises(EngineError, match="ALIAS_LAYOUT_INVALID"):
        alias_blob.decode(bytes(b))
