"""Segment 6B policies (layer3 §4.2–§4.5) and their JSON Schemas.

The files are loaded by path (not through the dictionary) and validated with the repo's
schema registry, so these tests do not depend on the dictionary's `policies:` entries."""

import copy
import math

import pytest
import yaml
from jsonschema import Draft202012Validator

from engine_core.contracts.schemas import SchemaRegistry
from engine_core.errors import EngineError
from engine_core.paths import project_root
from tests.helpers import object_paths

ROOT = project_root()
POLICIES_6B = {  # name: layer3 section
    "attachment": "§4.2",
    "amounts": "§4.2",
    "auth": "§4.2",
    "legit_flows": "§4.2",
    "weekly_profile": "§4.2",
    "fraud_campaigns": "§4.3",
    "labels": "§4.4",
    "ml_export": "§4.5",
}
TYPOLOGIES = [
    "CARD_TESTING",
    "STOLEN_CARD_CNP",
    "STOLEN_CARD_CP",
    "ACCOUNT_TAKEOVER",
    "MULE_MONEY_MOVEMENT",
    "FIRST_PARTY_BUST_OUT",
    "MERCHANT_COLLUSION",
]
# one nested object per policy for the explicit nested probe
NESTED = {
    "attachment": ("affinity",),
    "amounts": ("groups", "TRAVEL"),
    "auth": ("beta",),
    "legit_flows": ("p2p_route",),
    "weekly_profile": (),
    "fraud_campaigns": ("CARD_TESTING", "cards"),
    "labels": ("report", "MULE_MONEY_MOVEMENT"),
    "ml_export": ("split",),
}
# maps whose keys are open by design (any scenario id): probed separately
OPEN_KEYS = {("fraud_campaigns", ("fraud_rate",))}


@pytest.fixture(scope="module")
def reg() -> SchemaRegistry:
    return SchemaRegistry(ROOT / "contracts" / "schemas")


def rel(name: str) -> str:
    return f"policies/6B/{name}.yaml"


def ref(name: str) -> str:
    return f"policies/{name}_6B.yaml"


def load(name: str):
    return yaml.safe_load((ROOT / rel(name)).read_text(encoding="utf-8"))


def validate(reg: SchemaRegistry, name: str, doc) -> None:
    reg.validate(doc, ref(name), file=rel(name), code="POLICY_INVALID")


def fails_at(reg: SchemaRegistry, name: str, doc, pointer: str) -> None:
    with pytest.raises(EngineError) as e:
        validate(reg, name, doc)
    want = f"ENGINE.POLICY_INVALID: {rel(name)}: {pointer}: "
    assert e.value.message.startswith(want), e.value.message


def _inject(doc, path, key="bogus", value=1):
    bad = copy.deepcopy(doc)
    node = bad
    for p in path:
        node = node[p]
    node[key] = value
    return bad, "".join(f"/{p}" for p in path) + f"/{key}"


def expand_mcc(items) -> list[int]:
    out = []
    for item in items:
        if isinstance(item, str):
            lo, hi = (int(x) for x in item.split("-"))
            assert lo <= hi, item
            out.extend(range(lo, hi + 1))
        else:
            out.append(item)
    return out


# --- files and schemas --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(POLICIES_6B))
def test_6b_schema_is_a_valid_draft_2020_12_schema(name):
    for f in (ref(name), "policies/vocab_6B.yaml"):
        schema = yaml.safe_load((ROOT / "contracts/schemas" / f).read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"https://fwe.invalid/schemas/{f}"


KEYWORDS = {
    *("$schema", "$id", "$ref", "$defs", "title", "description", "type", "const", "enum"),
    *("properties", "additionalProperties", "propertyNames", "required", "minProperties"),
    *("items", "minItems", "maxItems", "uniqueItems", "pattern", "minLength", "anyOf", "allOf"),
    *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
}


def _schema_nodes(node, path=()):
    """(path, schema) of every subschema; `properties`/`$defs` values are subschemas."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            if k in ("properties", "$defs"):
                for name, sub in v.items():
                    yield from _schema_nodes(sub, (*path, k, name))
            elif isinstance(v, (dict, list)):
                yield from _schema_nodes(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _schema_nodes(v, (*path, i))


@pytest.mark.parametrize("name", [*sorted(POLICIES_6B), "vocab"])
def test_6b_schema_uses_only_known_keywords_and_describes_every_property(name):
    """Guards the flow-mapping pitfall (an unquoted comma in a description makes a new key)
    and gives every policy field a description for the data dictionary."""
    f = "policies/vocab_6B.yaml" if name == "vocab" else ref(name)
    schema = yaml.safe_load((ROOT / "contracts/schemas" / f).read_text(encoding="utf-8"))
    for path, node in _schema_nodes(schema):
        assert set(node) <= KEYWORDS, (f, path, set(node) - KEYWORDS)
        if name != "vocab" and len(path) >= 2 and path[-2] == "properties":
            assert isinstance(node.get("description"), str) and node["description"], (f, path)


@pytest.mark.parametrize("name", sorted(POLICIES_6B))
def test_6b_policy_header_and_schema(reg, name):
    first = (ROOT / rel(name)).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(f"# {name}_6B — ") and f"(layer3 {POLICIES_6B[name]})" in first
    doc = load(name)
    assert list(doc)[:2] == ["policy_id", "version"]
    assert (doc["policy_id"], doc["version"]) == (f"{name}_6B", 1)
    validate(reg, name, doc)


@pytest.mark.parametrize("name", sorted(POLICIES_6B))
def test_6b_unknown_field_fails_with_its_pointer(reg, name):
    """additionalProperties: false (or a closed key vocabulary) at every object level:
    the top level, the named nested level, and every other object of the file."""
    doc = load(name)
    for path in ((), NESTED[name]):
        fails_at(reg, name, *_inject(doc, path))
    probes = [p for p in object_paths(doc) if (name, p) not in OPEN_KEYS]
    assert len(probes) > 1 or name == "weekly_profile"
    for path in probes:
        fails_at(reg, name, *_inject(doc, path))


@pytest.mark.parametrize("name", sorted(POLICIES_6B))
def test_6b_missing_field_fails_with_its_pointer(reg, name):
    doc = load(name)
    for key in doc:
        bad = {k: v for k, v in doc.items() if k != key}
        fails_at(reg, name, bad, f"/{key}")


@pytest.mark.parametrize(
    ("name", "pointer", "value"),
    [
        ("attachment", "/p_local", 1.2),
        ("attachment", "/business_share/BOGUS_GROUP", 0.1),
        ("attachment", "/p_cnp_domestic/MARS", 0.5),
        ("attachment", "/affinity/pairs/NAM_LATAM", 0.2),
        ("attachment", "/affinity/same_region", 0),
        ("attachment", "/type_pref/CP/VIRTUAL_CARD", 0.1),
        ("attachment", "/device_pref/POS_TERMINAL", 0.1),
        ("attachment", "/ip_role_pref/MERCHANT_NETWORK", 0.1),
        ("amounts", "/groups/APPAREL/mcc/0", "5611-56"),
        ("amounts", "/groups/GROCERY/mcc/0", 10000),
        ("amounts", "/groups/FUEL/sigma", 0),
        ("amounts", "/groups/DEFAULT/mcc", [5999]),
        ("amounts", "/segment_log_shift/RICH", 0.1),
        ("amounts", "/merchant_tilt_sigma", 0),
        ("auth", "/decline_codes/00", 0.1),
        ("auth", "/decline_codes/99", 0.1),
        ("auth", "/entry_mix/NAM/ECOM", 0.1),
        ("auth", "/cnp_auth_mix/default/TOKEN_CRYPTOGRAM", 0.1),
        ("legit_flows", "/weekly_profile", "retail_v1"),
        ("legit_flows", "/p2p_per_month/RETAIL", -0.1),
        ("legit_flows", "/transfer_decline_codes/N8", 0.1),
        ("weekly_profile", "/weights/17", 0),
        ("fraud_campaigns", "/fraud_rate/default", 0.5),
        ("fraud_campaigns", "/fraud_rate/Holiday-Peak", 0.01),
        ("fraud_campaigns", "/delta_absorber", "PHISHING"),
        ("fraud_campaigns", "/CARD_TESTING/cards/max", 2.5),
        ("fraud_campaigns", "/CARD_TESTING/merchants/0", 0),
        ("fraud_campaigns", "/CARD_TESTING/cnp_auth/TOKEN_CRYPTOGRAM", 0.1),
        ("fraud_campaigns", "/STOLEN_CARD_CNP/mcc_groups/0", "GAMBLING"),
        ("fraud_campaigns", "/STOLEN_CARD_CP/entry/ECOM", 0.1),
        ("fraud_campaigns", "/MULE_MONEY_MOVEMENT/mules/min", 0),
        ("fraud_campaigns", "/MULE_MONEY_MOVEMENT/device/NONE", 0.1),
        ("fraud_campaigns", "/ACCOUNT_TAKEOVER/transfers/1", 1.5),
        ("labels", "/report/CARD_TESTING/channel", "FALSE_DISPUTE"),
        ("labels", "/report/CARD_TESTING/median", 0),
        ("labels", "/p_false_dispute", 1.5),
        ("ml_export", "/split/train_frac", 1.0),
        ("ml_export", "/maturity_days", -1),
    ],
)
def test_6b_policy_ranges_and_vocabularies(reg, name, pointer, value):
    doc = load(name)
    *head, last = pointer[1:].split("/")
    node = doc
    for tok in head:
        node = node[int(tok)] if isinstance(node, list) else node[tok]
    node[int(last) if isinstance(node, list) else last] = value
    fails_at(reg, name, doc, pointer)


def test_fraud_rate_takes_any_scenario_id_and_requires_default(reg):
    doc = load("fraud_campaigns")
    doc["fraud_rate"]["new_scenario_2"] = 0.004
    validate(reg, "fraud_campaigns", doc)
    del doc["fraud_rate"]["default"]
    fails_at(reg, "fraud_campaigns", doc, "/fraud_rate/default")


# --- content checks -----------------------------------------------------------------------------
def test_weekly_profile_has_168_positive_weights_and_is_the_builtin_reference():
    wp = load("weekly_profile")
    w = wp["weights"]
    assert len(w) == 168 and all(isinstance(x, (int, float)) and x > 0 for x in w)
    assert load("legit_flows")["weekly_profile"] == f"builtin:{wp['profile_id']}"
    peak = max(w)
    days = [w[24 * d : 24 * d + 24] for d in range(7)]
    for day in days:  # quiet nights, never zero
        assert max(day[1:5]) <= 0.25 * peak
    for day in days[:5]:  # weekday lunchtime and early-evening peaks above the night
        assert day[12] > 4 * day[3] and day[18] > 4 * day[3]
    assert days[4][19] > days[1][19] and days[5][11] > days[1][11]  # Friday night, Saturday day
    assert days[6][8] < days[1][8]  # slow Sunday morning


def test_amounts_mcc_groups_do_not_overlap():
    groups = load("amounts")["groups"]
    seen: dict[int, str] = {}
    for g, spec in groups.items():
        for mcc in expand_mcc(spec["mcc"]):
            assert 0 <= mcc <= 9999
            assert mcc not in seen, f"MCC {mcc} in {seen.get(mcc)} and {g}"
            seen[mcc] = g
    assert groups["DEFAULT"]["mcc"] == []
    assert seen[3500] == "TRAVEL" and seen[5650] == "APPAREL" and seen[8050] == "HEALTH"


def test_amounts_quasi_cash_mccs_are_money_group_mccs():
    doc = load("amounts")
    assert set(doc["quasi_cash_mcc"]) <= set(expand_mcc(doc["groups"]["MONEY"]["mcc"]))
    assert doc["clip_usd"]["min"] < doc["clip_usd"]["max"]


def test_mcc_group_vocabulary_is_the_amounts_groups(reg):
    vocab = reg.resolve("policies/vocab_6B.yaml#/$defs/mcc_group")["enum"]
    assert vocab == list(load("amounts")["groups"])
    keys = {*load("attachment")["business_share"], *load("legit_flows")["p_refund"]}
    assert keys - {"default"} <= set(vocab)


def test_fraud_typology_shares_sum_to_one_in_canonical_order(reg):
    doc = load("fraud_campaigns")
    share = doc["typology_share"]
    assert list(share) == TYPOLOGIES
    assert reg.resolve("policies/vocab_6B.yaml#/$defs/typology")["enum"] == TYPOLOGIES
    assert abs(math.fsum(share.values()) - 1.0) <= 1e-12
    assert doc["delta_absorber"] in share and share[doc["delta_absorber"]] > 0
    assert list(doc)[-7:] == TYPOLOGIES  # one mechanics block per typology, same order
    assert set(doc["fraud_rate"]) >= {"default", "baseline", "holiday_peak", "payday_stress"}


def test_fraud_campaign_ranges_are_ordered():
    doc = load("fraud_campaigns")
    ct, ato, mule = doc["CARD_TESTING"], doc["ACCOUNT_TAKEOVER"], doc["MULE_MONEY_MOVEMENT"]
    for lo, hi in (ct["merchants"], ato["transfers"], ato["purchases"], mule["forward_fraction"]):
        assert lo <= hi
    assert ct["duration_h"]["min"] <= ct["duration_h"]["median"] <= ct["duration_h"]["max"]
    assert ato["window_h"]["min"] <= ato["window_h"]["max"]
    assert mule["mules"]["min"] <= mule["mules"]["max"]
    for block in (mule["pattern"], mule["cashout"], doc["CARD_TESTING"]["device"]):
        assert abs(math.fsum(block.values()) - 1.0) <= 1e-12


def test_affinity_pairs_are_distinct_unordered_region_pairs():
    regions = yaml.safe_load((ROOT / "policies/6A/region_map.yaml").read_text())["regions"]
    pairs = [tuple(k.split("-")) for k in load("attachment")["affinity"]["pairs"]]
    assert all(a in regions and b in regions and a != b for a, b in pairs)
    assert len({frozenset(p) for p in pairs}) == len(pairs)


def test_region_and_segment_keys_are_the_6a_vocabularies(reg):
    regions = yaml.safe_load((ROOT / "policies/6A/region_map.yaml").read_text())["regions"]
    seg = yaml.safe_load((ROOT / "policies/6A/segmentation.yaml").read_text())["segments"]
    assert reg.resolve("policies/vocab_6A.yaml#/$defs/region")["enum"] == list(regions)
    assert (
        reg.resolve("policies/vocab_6A.yaml#/$defs/segment")["enum"]
        == seg["RETAIL"] + seg["BUSINESS"]
    )


def test_labels_report_every_typology_and_maturity_covers_the_caps():
    labels = load("labels")
    assert list(labels["report"]) == TYPOLOGIES
    for t, r in labels["report"].items():
        assert r["median"] <= r["cap"], t
    ml = load("ml_export")
    assert ml["maturity_days"] >= max(r["cap"] for r in labels["report"].values())
    assert 0 < ml["split"]["train_frac"] < ml["split"]["valid_end_frac"] < 1


def test_decline_codes_never_include_the_approval_code():
    docs = [load("auth")["decline_codes"], load("legit_flows")["transfer_decline_codes"]]
    docs += [v["decline_codes"] for k, v in load("fraud_campaigns").items() if k in TYPOLOGIES]
    assert all("00" not in d and all(isinstance(c, str) for c in d) for d in docs)


def test_vocab_6b_is_found_by_the_registry_scan(reg):
    """The registry loads every *.yaml under contracts/schemas: no list of vocabulary files."""
    assert ROOT / "contracts/schemas/policies/vocab_6B.yaml" in reg.files
    assert reg.resolve("policies/vocab_6B.yaml#/$defs/decline_code")["enum"][0] == "05"
