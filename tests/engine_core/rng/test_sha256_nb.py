"""Stream derivation with a shared prefix (layer2 §3.0, §8): both engines (libcrypto through
numba, pure numba) are byte-identical to hashlib."""

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from engine_core.identity import uer
from engine_core.rng import sha256_nb
from engine_core.rng.sha256_nb import (
    bucket_streams,
    derive_bucket_keys_nb,
    derive_streams,
    midstate,
    sha256_hex_slices,
    string_buffers,
    uer_suffixes,
)
from engine_core.rng.streams import StreamPrefix


def _words(d: bytes):
    return tuple(int.from_bytes(d[i : i + 8], "big") for i in (0, 8, 16))


@pytest.fixture(params=["openssl", "numba"])
def engine(request, monkeypatch):
    if request.param == "numba":
        monkeypatch.setenv("FWE_SHA256", "numba")
    sha256_nb._openssl.cache_clear()
    if request.param == "openssl" and sha256_nb._openssl() is None:
        pytest.skip("libcrypto not loadable here: the numba engine is the one in use")
    yield request.param
    sha256_nb._openssl.cache_clear()


def test_midstate_streams_equal_hashlib_on_1e5_keys(engine):
    rng = np.random.default_rng(7)
    n = 100_000
    # lengths cover every 64-byte boundary of prefix tail + key + padding
    lens = np.concatenate([np.arange(0, 150), rng.integers(0, 170, n - 150)])
    keys = [rng.integers(0, 256, int(k), dtype=np.uint8).tobytes() for k in lens]
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=off[1:])
    suf = np.frombuffer(b"".join(keys), np.uint8)
    for plen in (0, 55, 63, 64, 119, 200):
        prefix = rng.integers(0, 256, plen, dtype=np.uint8).tobytes()
        k, h, lo = derive_streams(prefix, suf, off)
        idx = rng.choice(n, 2000, replace=False) if plen else np.arange(n)
        for i in idx.tolist():
            assert (int(k[i]), int(h[i]), int(lo[i])) == _words(
                hashlib.sha256(prefix + keys[i]).digest()
            )


def test_bucket_key_law_matches_the_python_stream_prefix(engine):
    sp = StreamPrefix("fw.l2.v1", "5B.S4.arrival.v1", "a" * 64, "b" * 64, 2**64 - 1, "holiday_peak")
    prefix = (
        uer("fw.l2.v1") + uer("5B.S4.arrival.v1") + uer("a" * 64) + uer("b" * 64)
        + (2**64 - 1).to_bytes(8, "little") + uer("holiday_peak")
    )  # fmt: skip
    doms = [
        "1|UTC|card_present|",
        "18446744073709551615|America/Argentina/ComodRivadavia|card_not_present|",
    ]
    data, off = string_buffers(pa.array(doms))
    rd = np.array([0, 1, 1, 0, 1], np.int64)
    rb = np.array([0, 9, 10, 8783, 100], np.int64)
    ms = midstate(prefix)
    assert (ms.ctx is None) == (engine == "numba")
    k, h, lo = bucket_streams(ms, data, off, rd, rb)
    for i in range(5):
        assert sp.derive(f"{doms[rd[i]]}{rb[i]}") == (int(k[i]), int(h[i]), int(lo[i]))
    k2, h2, lo2 = (np.empty(5, np.uint64) for _ in range(3))
    derive_bucket_keys_nb(ms.mid, ms.tail, ms.prefix_len, data, off, rd, rb, k2, h2, lo2)
    assert np.array_equal(k, k2) and np.array_equal(h, h2) and np.array_equal(lo, lo2)


def test_uer_suffixes_and_slice_digests():
    suf, off = uer_suffixes(["a", "bcd", ""], ["xy", "", "zé"])
    assert bytes(suf) == uer("a") + uer("xy") + uer("bcd") + uer("") + uer("") + uer("zé")
    assert off.tolist() == [0, 11, 22, 33]
    data = np.frombuffer(bytes(range(256)) * 5, np.uint8)
    spans = [(0, 0), (5, 55), (7, 64), (100, 200), (0, 1280)]
    got = sha256_hex_slices(data, [o for o, _ in spans], [n for _, n in spans])
    assert got == [hashlib.sha256(bytes(data[o : o + n])).hexdigest() for o, n in spans]
