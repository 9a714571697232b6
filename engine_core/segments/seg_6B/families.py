"""The RNG family registry of segment 6B (layer3 §4.2–§4.4, L3.3, L3.7).

``FAMILIES`` is the engine's copy of the family tables; ``policies/6B/rng.yaml`` (``rng_6B``)
carries the same rows and 6B.S0 fails ``RNG_REGISTRY_MISMATCH`` on the first difference.
Every family uses the stride law (unit ``j`` owns blocks ``[j·B, j·B + B)``). ``scenario``
says whether the scenario id enters the stream key: ``6B.S1.merchant_tilt`` is keyed with
``scenario_id = ""`` so a merchant's price level is the same in every scenario (§4.2 step 3).
Samplers: ``as241`` inverse normal (lognormals from one uniform), ``alias`` picks,
``efraimidis`` subset/priority keys, ``poisson`` exact inversion and ``nb2`` (ARCH §4).

Pure Python: imported by S0 and by tests without numba or pyarrow.
"""

from __future__ import annotations

from engine_core.rng.family_table import Family, family
from engine_core.rng.family_table import registry_mismatch as _mismatch

SAMPLERS = ("as241", "alias", "efraimidis", "poisson", "nb2")
_CP = "{country}|{party_type}"
_CAMPAIGN = "{typology}|{campaign_ordinal}"


def _f(family_id, domain_key, unit, stride, draws, samplers=(), scenario=True) -> Family:
    return family(family_id, domain_key, unit, stride, draws, samplers, scenario=scenario)


FAMILIES: tuple[Family, ...] = (
    # --- 6B.S1 (§4.2) ---------------------------------------------------------------------
    _f("6B.S1.merchant_tilt", "{merchant_id}", "merchant", 1, "2·merchants", ["as241"], False),
    _f("6B.S1.trips", _CP, "party", 25, "1 + 3·trips per party", ["poisson", "alias", "as241"]),
    _f("6B.S1.attach", "{merchant_id}", "arrival (arrival_seq)", 10, "20·A", ["alias", "as241"]),
    _f("6B.S1.p2p", _CP, "party", 193, "1 + 8·transfers per party", ["poisson", "alias", "as241"]),
    _f("6B.S1.credit", _CP, "party", 25, "1 + 3·credits per party", ["poisson", "as241"]),
    # --- 6B.S2 (§4.3) ---------------------------------------------------------------------
    _f("6B.S2.pool", "{typology}", "eligible target", 1, "2·eligible", ["efraimidis"]),
    _f("6B.S2.plan", "{typology}", "campaign", 8, "16·campaigns", ["alias", "as241", "nb2"]),
    _f("6B.S2.target", _CAMPAIGN, "target", 2, "4·targets", ["nb2"]),
    _f("6B.S2.txn", _CAMPAIGN, "slot", 6, "12·slots", ["alias", "as241"]),
    _f("6B.S2.pick", _CAMPAIGN, "candidate (txn_index)", 1, "2·candidates scored"),
    _f("6B.S2.rebind", "{party_id}", "rebound row", 1, "2·rebinds", ["alias"]),
    # --- 6B.S3 (§4.4) ---------------------------------------------------------------------
    _f("6B.S3.report", _CAMPAIGN, "cluster", 1, "2·clusters", ["as241"]),
    _f(
        "6B.S3.noise",
        "rows",
        "row (txn_index)",
        1,
        "2·(legit approved CNP purchases + declined fraud rows)",
        ["as241"],
    ),
)

BY_ID: dict[str, Family] = {f.family_id: f for f in FAMILIES}


def registry_mismatch(doc: dict) -> str | None:
    """The first difference between a loaded ``rng_6B`` document and ``FAMILIES``."""
    return _mismatch(doc, FAMILIES, "rng_6B")


__all__ = ["BY_ID", "FAMILIES", "SAMPLERS", "registry_mismatch"]
