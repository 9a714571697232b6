"""The RNG ledger: trace rows reconcile with stream accounting and fit the rng.yaml tables."""

import json

import pytest

from engine_core.contracts import arrow_schema, load_dictionary
from engine_core.io.parquet import conform
from engine_core.rng import RngLedger
from engine_core.rng.streams import Stream, StreamPrefix

MF, PH = "ab" * 32, "cd" * 32


def test_trace_reconciles_with_streams_and_matches_schema():
    fam = "2B.S3.day_effect.v1"
    ledger = RngLedger("2B.S3", "fw.l1.v1", (fam,))
    prefix = StreamPrefix("fw.l1.v1", fam, MF, PH, 42)
    draws = 0
    for part, keys in enumerate([["1|Europe/Berlin", "1|Europe/Paris"], ["2|Asia/Tokyo"]]):
        for k in keys:
            s = Stream(*prefix.derive(k), state="2B.S3")
            s.words(31)  # D = 31 days: 31 draws, 16 blocks per event
            draws += 31
            ledger.record_stream(fam, part, s)
    d = load_dictionary()
    schema = arrow_schema(d.schemas, "rng.yaml#/$defs/rng_trace_log")
    t = conform(ledger.trace_table(schema), schema, where="trace", state="2B.S3")
    rows = t.to_pylist()
    assert [(r["part_index"], r["events"], r["draws"], r["blocks"]) for r in rows] == [
        (0, 2, 62, 32),
        (1, 1, 31, 16),
    ]
    first = prefix.derive("1|Europe/Berlin")
    last = prefix.derive("1|Europe/Paris")
    assert (rows[0]["first_key"], rows[0]["first_ctr_hi"], rows[0]["first_ctr_lo"]) == first
    assert rows[0]["last_key"] == last[0]
    assert ledger.totals() == {fam: {"events": 3, "draws": draws, "blocks": 48}}
    audit_schema = arrow_schema(d.schemas, "rng.yaml#/$defs/rng_audit_log")
    audit = conform(
        ledger.audit_table("fwe-spec-1.0", audit_schema), audit_schema, where="a", state="2B.S3"
    ).to_pylist()[0]
    assert audit["generator"] == "philox2x64-10"
    assert json.loads(audit["laws"])["poisson"] == "poisson_inversion_v1"
    assert set(json.loads(audit["library_versions"])) >= {"numpy", "numba", "pyarrow"}


def test_undeclared_family_is_rejected():
    ledger = RngLedger("1A.S2", "fw.l1.v1", ("1A.S2.merchant_attrs.v1",))
    with pytest.raises(ValueError):
        ledger.record("1A.S3.hurdle.v1", 0, events=1, draws=1, blocks=1, first=None, last=None)
