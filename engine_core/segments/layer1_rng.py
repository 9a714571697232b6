"""The layer-1 RNG family register (layer1 §7) and the check of each ``rng_<SEG>`` policy
against it: a row that differs is POLICY_INVALID at load."""

from __future__ import annotations

from engine_core.context import RunContext
from engine_core.errors import EngineError
from engine_core.rng.streams import StreamPrefix

DOMAIN_SEP = "fw.l1.v1"

# family_id: (state, domain_key_law, draws_per_event)
REGISTER: dict[str, tuple[str, str, str]] = {
    "1A.S2.home_alloc.v1": ("S2", "world", "1"),
    "1A.S2.merchant_attrs.v1": ("S2", "merchant_id", "3"),
    "1A.S3.hurdle.v1": ("S3", "merchant_id", "1"),
    "1A.S3.outlet_count.v1": ("S3", "merchant_id", "2"),
    "1A.S3.crossborder_k.v1": ("S3", "merchant_id", "1"),
    "1A.S3.crossborder_pick.v1": ("S3", "merchant_id", "C"),
    "1A.S3.outlet_split.v1": ("S3", "merchant_id", "1"),
    "1B.S4.alloc_sys.v1": ("S4", "country_iso", "1"),
    "1B.S5.site_shuffle.v1": ("S5", "country_iso", "N_c"),
    "1B.S6.jitter.v1": ("S6", "site_id", "2·attempts"),
    "2B.S1.site_weight.v1": ("S1", "site_id", "1"),
    "2B.S3.day_effect.v1": ("S3", "merchant_id|tzid", "D"),
    "3B.S1.virtual_mode.v1": ("S1", "merchant_id", "2"),
    "3B.S2.edge_place.v1": ("S2", "merchant_id", "2(E−1)"),
}


def families(ctx: RunContext, segment: str, state: str) -> dict[str, StreamPrefix]:
    """Validated prefixes of a state's families, keyed by family id."""
    name = f"rng_{segment}"
    pol = ctx.manifest.policies[name]
    path = ctx.dictionary.policy(name).path
    if pol["domain_sep"] != DOMAIN_SEP:
        raise EngineError(
            "POLICY_INVALID", f"{segment}.{state}", f"{path}: /domain_sep: must be {DOMAIN_SEP}"
        )
    want = {f: r for f, r in REGISTER.items() if f.startswith(f"{segment}.")}
    got = {}
    for i, row in enumerate(pol["families"]):
        fid = row["family_id"]
        if want.get(fid) != (row["state"], row["domain_key_law"], row["draws_per_event"]):
            raise EngineError(
                "POLICY_INVALID",
                f"{segment}.{state}",
                f"{path}: /families/{i}: {fid} differs from the register (§7)",
            )
        got[fid] = row
    if set(got) != set(want):
        missing = sorted(set(want) - set(got))
        raise EngineError(
            "POLICY_INVALID", f"{segment}.{state}", f"{path}: /families: missing {missing}"
        )
    return {
        f: StreamPrefix(DOMAIN_SEP, f, ctx.mf, ctx.ph, ctx.seed)
        for f, r in sorted(got.items())
        if r["state"] == state
    }
