"""The RNG family registry of segment 6A (layer3 §3.2–§3.6, L3.3, L3.7).

``FAMILIES`` is the engine's copy of the family tables; ``policies/6A/rng.yaml``
(``rng_6A``) carries the same rows and 6A.S0 fails ``RNG_REGISTRY_MISMATCH`` on the
first difference (``registry_mismatch``). Per family: the domain-key template exactly as in
the spec table, the unit that owns a block range, the stride ``B`` (blocks per unit; 0 for
the CAPPED_MULTINOMIAL families, whose counter layout is L3.4's, and for ``6A.S5.ring``,
whose layout is given in §3.6), the trace-draws formula, the named samplers (``as241``
inverse-normal, ``alias`` picks, ``efraimidis`` subset keys) and the counter law:

- ``stride``: unit ``j`` owns blocks ``[j·B, j·B + B)`` (L3.3);
- ``capped_multinomial``: unit ``t`` owns blocks ``[2t, 2t+2)``, owner ``j`` block ``2N + j``
  (L3.4);
- ``ring``: mule ``m`` owns block ``m``, ring ``r`` blocks ``[M + 21r, M + 21r + 21)`` (§3.6).

Pure Python: imported by S0 and by tests without numba or pyarrow.
"""

from __future__ import annotations

from engine_core.rng.family_table import (
    CAPPED_MULTINOMIAL,
    FIELDS,
    LAWS,
    RING,
    STRIDE,
    Family,
)
from engine_core.rng.family_table import family as _f
from engine_core.rng.family_table import registry_mismatch as _mismatch

SAMPLERS = ("as241", "alias", "efraimidis")


_S2_CELL = "{country}|{party_type}|{segment}|{account_type}"
_S3_CELL = "{country}|{party_type}|{segment}|{instrument_type}"
_S4_CELL = "{country}|{party_type}|{segment}|{device_type}"
_CM = ("alias", "efraimidis")  # 4 alias tries per unit; subset key per owner (base_one)

FAMILIES: tuple[Family, ...] = (
    # --- 6A.S1 (§3.2) ---------------------------------------------------------------------
    _f("6A.S1.world_scale", "world", "world", 1, "2", ["as241"]),
    _f("6A.S1.split_tb", "{country_iso}", "cell", 1, "2·cells"),
    _f(
        "6A.S1.party_attr",
        "{country_iso}|{party_type}|{segment_id}",
        "party",
        3,
        "6·parties",
        ["alias", "as241"],
    ),
    _f("6A.S1.household", "{country_iso}|{home_cell_id}", "retail party", 1, "2·retail parties"),
    # --- 6A.S2 (§3.3) ---------------------------------------------------------------------
    _f("6A.S2.count_tb", "{account_type}", "cell", 1, "2·cells"),
    _f("6A.S2.owner_weight", _S2_CELL, "party", 1, "2·parties·types", ["as241"]),
    _f("6A.S2.alloc", _S2_CELL, "account", 0, "4·N_k + 2·owners", _CM, CAPPED_MULTINOMIAL),
    _f("6A.S2.attr", _S2_CELL, "account", 1, "2·accounts", ["as241"]),
    _f(
        "6A.S2.holders",
        "{country}|{account_type}",
        "account",
        1,
        "2·eligible accounts",
        ["efraimidis"],
    ),
    # --- 6A.S3 (§3.4) ---------------------------------------------------------------------
    _f("6A.S3.card_select", _S3_CELL, "account", 1, "2·accounts", ["efraimidis"]),
    _f("6A.S3.alloc", _S3_CELL, "card", 0, "4·N + 2·owners", _CM, CAPPED_MULTINOMIAL),
    _f("6A.S3.attr", _S3_CELL, "instrument", 3, "6·instruments", ["alias", "as241"]),
    _f("6A.S3.bin", "{country}|{scheme}|{instrument_type}", "BIN slot", 1, "2·bins"),
    # --- 6A.S4 (§3.5) ---------------------------------------------------------------------
    _f("6A.S4.count_tb", "{device_type}", "cell", 1, "2·cells"),
    _f("6A.S4.owner_weight", _S4_CELL, "party", 1, "2·parties·types", ["as241"]),
    _f("6A.S4.alloc", _S4_CELL, "device", 0, "4·N + 2·owners", _CM, CAPPED_MULTINOMIAL),
    _f("6A.S4.attr", "{country}|{device_type}", "device", 2, "4·devices"),
    _f("6A.S4.share", "{country}|{home_cell}", "candidate (device, member) pair", 1, "2·pairs"),
    _f("6A.S4.public", "{country}", "public device", 31, "62·public devices", ["alias"]),
    _f(
        "6A.S4.access",
        "{country}|{device_type}",
        "candidate (device, account or card) edge",
        1,
        "2·candidates",
    ),
    # global pools use {country} = GLOBAL (§3.5: `{ip_type}|GLOBAL`)
    _f("6A.S4.ip_pool", "{ip_type}|{country}", "IP", 2, "4·IPs", ["alias"]),
    _f("6A.S4.token_bind", "{country}", "token", 1, "2·tokens"),
    _f("6A.S4.ip_edge", "{country}|{device_type}", "device", 3, "6·devices"),
    _f(
        "6A.S4.ip_pick",
        "{ip_type}|{country}",
        "edge",
        0,
        "4·edges + 2·pool IPs",
        _CM,
        CAPPED_MULTINOMIAL,
    ),
    # --- 6A.S5 (§3.6) ---------------------------------------------------------------------
    _f("6A.S5.target_tb", "{role}", "cell", 1, "2·cells"),
    _f("6A.S5.select", "{role}|{cell_key}", "eligible entity", 1, "2·eligible", ["efraimidis"]),
    _f(
        "6A.S5.ring", "{region_id}", "mule, ring", 0, "2·mules + 42·rings", ["as241", "alias"], RING
    ),
    _f("6A.S5.operator", "ring|{ring ordinal}", "operator device", 6, "12·operator devices"),
    _f(
        "6A.S5.operator_access",
        "ring|{ring ordinal}",
        "candidate (operator device, ring mule account) edge",
        1,
        "2·candidates",
    ),
)

BY_ID: dict[str, Family] = {f.family_id: f for f in FAMILIES}


def registry_mismatch(doc: dict) -> str | None:
    """The first difference between a loaded ``rng_6A`` document and ``FAMILIES``."""
    return _mismatch(doc, FAMILIES, "rng_6A")


__all__ = [
    "BY_ID",
    "CAPPED_MULTINOMIAL",
    "FAMILIES",
    "FIELDS",
    "LAWS",
    "RING",
    "SAMPLERS",
    "STRIDE",
    "Family",
    "registry_mismatch",
]
