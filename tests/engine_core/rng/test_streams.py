"""Stream derivation matches an independent hashlib computation of the §4 message."""

import hashlib
import struct

import numpy as np

from engine_core.identity import uer
from engine_core.rng import derive_stream, uniform01
from engine_core.rng.streams import StreamPrefix
from engine_core.rng.uniform import scale53

MF = "ab" * 32
PH = "cd" * 32


def reference(domain_sep, family, mf, ph, seed, scenario, key):
    def enc(s):
        b = s.encode()
        return len(b).to_bytes(4, "big") + b

    msg = enc(domain_sep) + enc(family) + enc(mf) + enc(ph) + struct.pack("<Q", seed)
    msg += enc(scenario) + enc(key)
    h = hashlib.sha256(msg).digest()
    return tuple(int.from_bytes(h[i : i + 8], "big") for i in (0, 8, 16))


def test_derive_stream_matches_hashlib():
    for args in [
        ("fw.l1.v1", "1A.S2.merchant_attrs.v1", MF, PH, 42, "", "123"),
        (
            "fw.l2.v1",
            "5B.S3.bucket_count.v1",
            MF,
            PH,
            (1 << 64) - 1,
            "baseline",
            "9|Europe/Berlin|card_present|17",
        ),
        ("fw.l1.v1", "1B.S6.jitter.v1", MF, PH, 0, "", "ü|日本"),
    ]:
        assert derive_stream(*args) == reference(*args)


def test_known_answer_vector_pinned():
    # pinned so an accidental change of the law (field order, endianness) is caught
    got = derive_stream("fw.l1.v1", "1A.S2.home_alloc.v1", MF, PH, 42, "", "world")
    assert got == reference("fw.l1.v1", "1A.S2.home_alloc.v1", MF, PH, 42, "", "world")
    assert got[0] == int(
        hashlib.sha256(
            uer("fw.l1.v1")
            + uer("1A.S2.home_alloc.v1")
            + uer(MF)
            + uer(PH)
            + (42).to_bytes(8, "little")
            + uer("")
            + uer("world")
        ).hexdigest()[:16],
        16,
    )


def test_prefix_copy_equals_fresh_derivation_and_vector_form():
    p = StreamPrefix("fw.l1.v1", "2B.S1.site_weight.v1", MF, PH, 7)
    keys = [str(i) for i in range(50)]
    k, hi, lo = p.derive_many(keys)
    for i, key in enumerate(keys):
        want = derive_stream("fw.l1.v1", "2B.S1.site_weight.v1", MF, PH, 7, "", key)
        assert (int(k[i]), int(hi[i]), int(lo[i])) == want == p.derive(key)


def test_uniform01_strictly_inside_and_exact():
    u = uniform01(np.array([0, (1 << 64) - 1, 1 << 63, 4095, 4096], dtype=np.uint64))
    assert u[0] > 0 and u[0] == 2.0**-53
    assert u[1] < 1 and u[1] == 1 - 2.0**-53
    assert u[2] == 0.5 + 2.0**-53
    assert u[3] == u[0] and u[4] == 3 * 2.0**-53
    # every value is an odd multiple of 2^-53
    x = np.random.default_rng(1).integers(0, (1 << 64) - 1, 10_000, dtype=np.uint64)
    m = uniform01(x) * 2.0**53
    assert np.all(m == np.floor(m)) and np.all(m.astype(np.int64) % 2 == 1)


def test_scale53_is_exact_floor_and_fraction():
    rng = np.random.default_rng(5)
    x = rng.integers(0, (1 << 64) - 1, 20_000, dtype=np.uint64, endpoint=True)
    x[:2] = [0, (1 << 64) - 1]
    for n in (1, 2, 3, 7, 1000, 86_400_000_000 % (1 << 32), (1 << 32) - 1):
        j, f = scale53(x, n)
        for xi, ji, fi in zip(x[:500].tolist(), j[:500].tolist(), f[:500].tolist(), strict=True):
            t = (2 * (xi >> 12) + 1) * n  # exact with Python ints
            assert ji == t >> 53 and fi == t & ((1 << 53) - 1)
        assert int(j.max()) <= n - 1
