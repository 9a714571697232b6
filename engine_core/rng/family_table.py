"""RNG family tables of the layer-3 segments (layer3 L3.3, L3.7): the engine's copy of a
segment's family rows and the one comparison against its ``rng_<SEG>`` policy.

A segment's ``families.py`` lists its ``Family`` rows; its S0 fails
``RNG_REGISTRY_MISMATCH`` on the first difference that ``registry_mismatch`` names (row order
included). Pure Python: imported by S0s and tests without numba or pyarrow."""

from __future__ import annotations

from dataclasses import dataclass

STRIDE = "stride"
CAPPED_MULTINOMIAL = "capped_multinomial"
RING = "ring"
LAWS = (STRIDE, CAPPED_MULTINOMIAL, RING)
FIELDS = ("family_id", "state", "domain_key", "unit", "stride", "draws", "samplers", "law")


@dataclass(frozen=True)
class Family:
    family_id: str
    state: str
    domain_key: str
    unit: str
    stride: int
    draws: str
    samplers: tuple[str, ...]
    law: str
    # 6B: whether the scenario id enters the stream key ("" for scenario-free families,
    # layer3 §4.2 merchant_tilt); None where the segment is scenario-free altogether (6A)
    scenario: bool | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS if self.scenario is None else (*FIELDS, "scenario")

    def row(self) -> dict:
        """The family as its ``rng_<SEG>`` row (``samplers`` as a list)."""
        out = {
            "family_id": self.family_id,
            "state": self.state,
            "domain_key": self.domain_key,
            "unit": self.unit,
            "stride": self.stride,
            "draws": self.draws,
            "samplers": list(self.samplers),
            "law": self.law,
        }
        if self.scenario is not None:
            out["scenario"] = self.scenario
        return out


def family(
    family_id, domain_key, unit, stride, draws, samplers=(), law=STRIDE, scenario=None
) -> Family:
    """A row with its state taken from the id (``6A.S1.x`` → ``S1``)."""
    return Family(
        family_id,
        family_id.split(".")[1],
        domain_key,
        unit,
        stride,
        draws,
        tuple(samplers),
        law,
        scenario,
    )


def registry_mismatch(doc: dict, families: tuple[Family, ...], name: str) -> str | None:
    """One line naming the first difference between a loaded ``name`` document's
    ``families`` and ``families`` (row order included), or ``None`` if identical."""
    by_id = {f.family_id for f in families}
    rows = doc.get("families") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return f"{name}: /families is missing or not a list"
    for i, (row, fam) in enumerate(zip(rows, families, strict=False)):
        want = fam.row()
        if not isinstance(row, dict):
            return f"{name}: /families/{i}: not a mapping (registry {fam.family_id})"
        if row.get("family_id") != fam.family_id:
            got = row.get("family_id")
            where = "unknown to the registry" if got not in by_id else "out of registry order"
            return (
                f"{name}: /families/{i}/family_id: {got!r} ({where}); "
                f"registry has {fam.family_id!r} here"
            )
        for key in fam.fields:
            if key not in row:
                return f"{name}: /families/{i}/{key}: missing ({fam.family_id})"
            got = (
                list(row[key])
                if key == "samplers" and isinstance(row[key], (list, tuple))
                else row[key]
            )
            if got != want[key] or type(got) is not type(want[key]):
                return (
                    f"{name}: /families/{i}/{key}: {row[key]!r} != registry {want[key]!r} "
                    f"({fam.family_id})"
                )
        extra = sorted(set(row) - set(fam.fields))
        if extra:
            return f"{name}: /families/{i}/{extra[0]}: not a registry field ({fam.family_id})"
    if len(rows) < len(families):
        return (
            f"{name}: /families: {len(rows)} rows, registry has {len(families)} "
            f"(first missing {families[len(rows)].family_id})"
        )
    if len(rows) > len(families):
        extra = rows[len(families)]
        fid = extra.get("family_id") if isinstance(extra, dict) else extra
        return (
            f"{name}: /families/{len(families)}: {fid!r} is not in the registry "
            f"({len(rows)} rows, registry has {len(families)})"
        )
    return None
