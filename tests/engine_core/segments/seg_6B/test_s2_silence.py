"""6B.S2 bust-out silence (layer3 §4.3): the look-alike law (uniform over the party's
(country, home cell, party type) group, never the party itself) and the 5B arrival_seq
lookup by global row ordinal."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from engine_core.kernels.csr import csr
from engine_core.segments.seg_6B import s2_silence


def _table(groups):
    """A CSR over groups of party rows (ids = rows, so id order = row order)."""
    g = np.concatenate([np.full(n, k) for k, n in enumerate(groups)])
    rows = np.arange(g.size)
    return csr(g, len(groups), rows, key=rows), g


def test_lookalike_is_uniform_and_never_self():
    table, g = _table([5, 1, 3])
    rng = np.random.default_rng(7)
    n = 60_000
    self_row = np.full(n, 2)  # the third member of group 0
    words = rng.integers(0, 2**64, n, dtype=np.uint64)
    got = s2_silence.pick_lookalike(words, np.zeros(n, np.int64), table, self_row)
    assert (got != 2).all() and set(np.unique(got)) == {0, 1, 3, 4}
    counts = np.bincount(got, minlength=5)[[0, 1, 3, 4]]
    assert stats.chisquare(counts).pvalue > 1e-3
    # a group whose only member is the party itself has no look-alike
    alone = s2_silence.pick_lookalike(words[:10], np.ones(10, np.int64), table, np.full(10, 5))
    assert (alone == -1).all()
    # a party of another group (or not carded for the channel) may get any member
    other = s2_silence.pick_lookalike(words[:1000], np.full(1000, 2), table, np.full(1000, 0))
    assert set(np.unique(other)) == {6, 7, 8}


def test_arrival_seq_by_global_ordinal(tmp_path):
    seqs = [np.arange(100, 107), np.arange(0, 5), np.arange(40, 49)]
    paths = []
    for k, s in enumerate(seqs):
        p = tmp_path / f"part-{k:05d}.parquet"
        pq.write_table(pa.table({"arrival_seq": pa.array(s, pa.uint64())}), p)
        paths.append(p)

    class _IO:
        def parts(self, _):
            return paths

    flat = np.concatenate(seqs)
    a = np.array([0, 6, 7, 11, 12, 20, 3])
    assert s2_silence.arrival_seq(_IO(), a).tolist() == flat[a].tolist()
