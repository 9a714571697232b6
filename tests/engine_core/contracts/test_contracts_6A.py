"""Segment 6A contracts (layer3 §3): policies and their schemas, the RNG family registry,
the dictionary entries, the column schemas as pyarrow types, and the 6A profile leaves."""

import copy

import pyarrow as pa
import pytest
import yaml

from engine_core.contracts import load_dictionary, load_policy, load_profile
from engine_core.contracts.policy import PROFILES
from engine_core.errors import EngineError
from engine_core.paths import policies_root, project_root
from engine_core.segments.seg_6A.families import FAMILIES, registry_mismatch
from tests.helpers import object_paths

ROOT = project_root()
POLICIES_6A = (
    "population",
    "region_map",
    "segmentation",
    "products",
    "instruments",
    "devices",
    "ips",
    "fraud_posture",
    "rng",
)
REFDATA_6A = ("countries", "currencies", "fx_static")

# layer3 §3.1–§3.6 outputs, column lists in the spec's shorthand (L3.1), in state order
U64, STR = pa.uint64(), pa.dictionary(pa.int32(), pa.string())
TYPES = {
    "u64": U64,
    "u32": pa.uint32(),
    "u16": pa.uint16(),
    "u8": pa.uint8(),
    "i64": pa.int64(),
    "f32": pa.float32(),
    "f64": pa.float64(),
    "bool": pa.bool_(),
    "str": STR,
    "date": pa.date32(),
}
DEVICE_BASE = (
    "device_id u64, device_type str, os_family str, os_version_age str, owner_kind str, "
    "primary_party_id u64?, merchant_id u64?, site_id u64?, home_country_iso str, "
    "home_region_id str, first_seen_date date"
)
DEVICE_LINKS = (
    "device_id u64, link_role str, party_id u64?, account_id u64?, instrument_id u64?, "
    "merchant_id u64?, site_id u64?"
)
IP_LINKS = "device_id u64, ip_id u64, party_id u64?, link_role str"
TABLES = {
    "s1_party_base_6A": (
        "S1",
        ["party_id"],
        "party_id u64, party_type str, segment_id str, country_iso str, region_id str, "
        "home_cell_id u32, home_tzid str, household_id u64?, household_size u8, "
        "customer_since date, tenure_band str, activity_cp f32, activity_cnp f32, "
        "travel_propensity f32",
    ),
    "s1_party_summary_6A": (
        "S1",
        ["country_iso", "party_type", "segment_id"],
        "country_iso str, region_id str, party_type str, segment_id str, n_parties u32, "
        "target_share f64",
    ),
    "s2_account_base_6A": (
        "S2",
        ["account_id"],
        "account_id u64, owner_party_id u64, account_type str, currency str, open_date date, "
        "is_primary bool, credit_limit_minor i64?",
    ),
    "s2_account_holders_6A": (
        "S2",
        ["account_id", "party_id"],
        "account_id u64, party_id u64, holder_role str",
    ),
    "s2_party_product_holdings_6A": (
        "S2",
        ["party_id", "account_type"],
        "party_id u64, account_type str, n_accounts u16",
    ),
    "s3_instrument_base_6A": (
        "S3",
        ["instrument_id"],
        "instrument_id u64, instrument_type str, account_id u64, holder_party_id u64, "
        "scheme str?, bin6 u32?, card_tier str?, issue_date date, expiry_date date?, "
        "parent_instrument_id u64?, usage_weight f32",
    ),
    "s3_account_instrument_links_6A": (
        "S3",
        ["account_id", "instrument_id"],
        "account_id u64, instrument_id u64, link_role str",
    ),
    "s3_bin_catalogue_6A": (
        "S3",
        ["bin6"],
        "bin6 u32, scheme str, country_iso str, instrument_type str, issuer_rank u8, "
        "popularity f32",
    ),
    "s4_device_base_6A": ("S4", ["device_id"], DEVICE_BASE),
    "s4_device_links_6A": ("S4", ["device_id", "link_role"], DEVICE_LINKS),
    "s4_ip_base_6A": (
        "S4",
        ["ip_id"],
        "ip_id u64, ip_type str, asn_class str, asn_id u32, ip_country_iso str, "
        "ip_region_id str, popularity f32",
    ),
    "s4_ip_links_6A": ("S4", ["device_id", "ip_id"], IP_LINKS),
    "s4_network_summary_6A": (
        "S4",
        ["metric", "stratum"],
        "metric str, stratum str, n u64, mean f64, p50 f64, p90 f64, p99 f64, max f64, "
        "hill_alpha f64?",
    ),
    "s5_party_roles_6A": ("S5", ["party_id"], "party_id u64, fraud_role str, ring_id u64?"),
    "s5_account_roles_6A": (
        "S5",
        ["account_id"],
        "account_id u64, fraud_role str, role_source str, ring_id u64?",
    ),
    "s5_instrument_roles_6A": (
        "S5",
        ["instrument_id"],
        "instrument_id u64, fraud_role str, exposure_channel str?, role_source str",
    ),
    "s5_device_roles_6A": ("S5", ["device_id"], "device_id u64, fraud_role str, ring_id u64?"),
    "s5_ip_roles_6A": ("S5", ["ip_id"], "ip_id u64, fraud_role str"),
    "s5_merchant_roles_6A": (
        "S5",
        ["merchant_id", "fraud_role", "site_id"],
        "merchant_id u64, site_id u64, fraud_role str",
    ),
    "s5_fraud_rings_6A": (
        "S5",
        ["ring_id"],
        "ring_id u64, home_region_id str, home_country_iso str, n_mules u32, "
        "n_operator_devices u16, n_ips u16",
    ),
    "s5_operator_devices_6A": ("S5", ["device_id"], DEVICE_BASE),
    "s5_ring_device_links_6A": ("S5", ["device_id", "link_role"], DEVICE_LINKS),
    "s5_ring_ip_links_6A": ("S5", ["device_id", "ip_id"], IP_LINKS),
    "s5_posture_summary_6A": (
        "S5",
        ["fraud_role", "cell_key"],
        "fraud_role str, cell_key str, eligible u64, target u64, realised u64",
    ),
}
JSON_DOCS = {  # id: (state, file name, schema)
    "s0_gate_receipt_6A": ("S0", "s0_gate_receipt_6A.json", "gates.yaml#/$defs/gate_receipt"),
    "sealed_inputs_6A": ("S0", "sealed_inputs_6A.json", "gates.yaml#/$defs/sealed_inputs"),
    "s1_world_plan_6A": ("S1", "world_plan.json", "seg_6A.yaml#/$defs/s1_world_plan_6A"),
}
# layer3 §3.9: the 6A profile leaves (small = the policy files)
LEAVES = {
    "tiny": {
        "population_6A": {"/n_world/min": 2000, "/n_world/max": 20000, "/scale_factor": 1.0},
        "fraud_posture_6A": {"/min_count_default": 5},
    },
    "small": {
        "population_6A": {"/n_world/min": 100000, "/n_world/max": 600000, "/scale_factor": 1.0},
        "fraud_posture_6A": {"/min_count_default": 1},
    },
    "reference": {
        "population_6A": {
            "/n_world/min": 3000000,
            "/n_world/max": 8000000,
            "/scale_factor": 1.0,
        },
        "fraud_posture_6A": {"/min_count_default": 1},
    },
    "large": {
        "population_6A": {
            "/n_world/min": 20000000,
            "/n_world/max": 80000000,
            "/scale_factor": 1.0,
        },
        "fraud_posture_6A": {"/min_count_default": 1},
    },
}


def columns(spec: str):
    for item in spec.split(", "):
        name, typ = item.split(" ")
        yield name, TYPES[typ.rstrip("?")], typ.endswith("?")


def at(doc, pointer: str):
    for tok in pointer[1:].split("/"):
        doc = doc[int(tok)] if isinstance(doc, list) else doc[tok]
    return doc


# --- dictionary ---------------------------------------------------------------------------------
def test_6a_policies_and_refdata_are_registered_under_the_naming_rule():
    d = load_dictionary()
    for name in POLICIES_6A:
        spec = d.policy(f"{name}_6A")
        assert (spec.path, spec.schema_ref) == (
            f"policies/6A/{name}.yaml",
            f"policies/{name}_6A.yaml",
        )
    for name in REFDATA_6A:
        spec = d.policy(f"{name}_6A")
        assert (spec.path, spec.schema_ref) == (
            f"policies/6A/refdata/{name}.yaml",
            f"policies/{name}_6A.yaml",
        )


def test_6a_datasets_are_listed_in_state_order_with_their_paths():
    d = load_dictionary()
    got = [s for s in d.datasets.values() if s.segment == "6A"]
    assert [s.state for s in got] == sorted(s.state for s in got)  # state order
    want = set(TABLES) | set(JSON_DOCS) | {"validation_bundle_6A"}
    want |= {f"rng_{k}_log_6A_S{i}" for k in ("trace", "audit") for i in range(1, 6)}
    assert {s.id for s in got} == want
    pk = "seed={seed}/manifest_fingerprint={manifest_fingerprint}/"
    for s in got:
        assert s.description.strip().endswith("."), s.id  # a real sentence for the UI
        assert s.partition_keys == ("seed", "manifest_fingerprint"), s.id  # never scenario_id
        if s.id in TABLES:
            state, key, _ = TABLES[s.id]
            assert (s.state, s.format, s.path) == (state, "parquet", f"layer3/6A/{s.id}/{pk}")
            assert list(s.primary_key) == key and list(s.sort_order) == key, s.id
        elif s.id in JSON_DOCS:
            state, file, ref = JSON_DOCS[s.id]
            assert (s.state, s.format, s.schema_ref) == (state, "json", ref)
            assert s.path == f"layer3/6A/{s.id}/{pk}{file}"
        elif s.id.startswith("rng_"):
            kind, state = s.id.split("_")[1], s.id.rsplit("_", 1)[1]
            assert (s.state, s.format) == (state, "parquet")
            assert s.schema_ref == f"rng.yaml#/$defs/rng_{kind}_log"
            assert s.path == f"layer3/6A/{s.id}/{pk}"
        else:
            assert (s.state, s.format, s.schema_ref) == (
                "S5",
                "directory",
                "gates.yaml#/$defs/bundle_index",
            )
            assert s.path == f"layer3/6A/validation/{pk}"
    rng_states = {s.state for s in got if s.id.startswith("rng_")}
    assert rng_states == {"S1", "S2", "S3", "S4", "S5"}


@pytest.mark.parametrize("dataset_id", sorted(TABLES))
def test_6a_tables_map_to_the_spec_columns_and_arrow_types(dataset_id):
    """Every column of the spec, in spec order, with its L3.1 type: ids uint64, `str`
    dictionary-encoded, `date` date32, `?` exactly the nullable columns."""
    s = load_dictionary().arrow_schema_of(dataset_id)
    want = list(columns(TABLES[dataset_id][2]))
    assert s.names == [n for n, _, _ in want]
    for name, typ, nullable in want:
        f = s.field(name)
        assert f.type == typ, (dataset_id, name, f.type)
        assert f.nullable == nullable, (dataset_id, name)


def test_6a_enumerated_columns_carry_their_vocabulary():
    d = load_dictionary()
    enum = {
        (ds, f.name): yaml.safe_load(f.metadata[b"fwe.enum"])
        for ds in TABLES
        for f in d.arrow_schema_of(ds)
        if f.metadata and b"fwe.enum" in f.metadata
    }
    assert enum["s3_instrument_base_6A", "instrument_type"] == [
        "DEBIT_CARD",
        "CREDIT_CARD",
        "PREPAID_CARD",
        "VIRTUAL_CARD",
        "WALLET_TOKEN",
        "TRANSFER_HANDLE",
    ]
    assert enum["s4_ip_links_6A", "link_role"] == [
        "TYPICAL_DEVICE_IP",
        "SECONDARY_DEVICE_IP",
        "PROXY_EXIT",
        "MERCHANT_NETWORK",
    ]
    assert len(enum["s4_device_base_6A", "device_type"]) == 10
    assert len(enum["s4_ip_base_6A", "ip_type"]) == 8
    # the policies' vocabularies are the columns' vocabularies
    seg = yaml.safe_load((ROOT / "policies/6A/segmentation.yaml").read_text())
    assert (
        enum["s1_party_base_6A", "segment_id"]
        == seg["segments"]["RETAIL"] + seg["segments"]["BUSINESS"]
    )
    regions = yaml.safe_load((ROOT / "policies/6A/region_map.yaml").read_text())["regions"]
    assert enum["s1_party_base_6A", "region_id"] == list(regions)
    products = yaml.safe_load((ROOT / "policies/6A/products.yaml").read_text())
    assert set(enum["s2_account_base_6A", "account_type"]) == set(products["account_types"])
    ips = yaml.safe_load((ROOT / "policies/6A/ips.yaml").read_text())
    assert set(enum["s4_ip_base_6A", "ip_type"]) == set(ips["max_devices_per_ip"])
    assert "country_iso" not in {c for _, c in enum}  # open vocabularies stay open


def test_6a_gate_receipt_requires_the_layer3_fields_and_leaves_others_alone():
    reg = load_dictionary().schemas
    h = "0" * 64
    base = {
        "manifest_fingerprint": h,
        "parameter_hash": h,
        "spec_version": "fwe-spec-1.0",
        "upstream": [{"segment": "1A", "bundle_digest_sha256": h}],
        "sealed_inputs_digest": h,
        "seed": 42,
    }
    reg.validate({**base, "segment": "1B"}, "gates.yaml#/$defs/gate_receipt", file="r", code="X")
    receipt = {
        **base,
        "segment": "6A",
        "reference_date": "2026-01-01",
        "upstream_gates": [
            {"segment": "1A", "bundle_digest_sha256": h, "status": "PASS"},
            {
                "segment": "5A",
                "scenario_id": "baseline",
                "bundle_digest_sha256": h,
                "status": "PASS",
            },
        ],
    }
    reg.validate(receipt, "gates.yaml#/$defs/gate_receipt", file="r", code="X")
    for field, pointer in (("reference_date", "/reference_date"), ("seed", "/seed")):
        bad = {k: v for k, v in receipt.items() if k != field}
        with pytest.raises(EngineError, match=f"r: {pointer}: "):
            reg.validate(bad, "gates.yaml#/$defs/gate_receipt", file="r", code="X")
    bad = copy.deepcopy(receipt)
    bad["upstream_gates"][0]["status"] = "FAIL"
    with pytest.raises(EngineError, match="r: /upstream_gates/0/status: "):
        reg.validate(bad, "gates.yaml#/$defs/gate_receipt", file="r", code="X")


# --- policies -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", POLICIES_6A)
def test_6a_policy_header_and_schema(name):
    d = load_dictionary()
    text = (ROOT / f"policies/6A/{name}.yaml").read_text()
    assert text.startswith(f"# {name}_6A — ") and "layer3 " in text.splitlines()[0]
    doc = load_policy(f"{name}_6A", d, policies_root())
    assert (doc["policy_id"], doc["version"]) == (f"{name}_6A", 1)


@pytest.mark.parametrize("name", POLICIES_6A)
def test_6a_unknown_field_at_any_level_fails_with_its_pointer(name):
    """additionalProperties: false (or a closed key vocabulary) at every object level."""
    d = load_dictionary()
    spec = d.policy(f"{name}_6A")
    doc = yaml.safe_load((ROOT / spec.path).read_text())
    probes = list(object_paths(doc))
    assert len(probes) > 1 or name == "region_map"
    for path in probes:
        bad = copy.deepcopy(doc)
        node = bad
        for p in path:
            node = node[p]
        node["surprise"] = 1
        pointer = "".join(f"/{p}" for p in path) + "/surprise"
        with pytest.raises(EngineError) as e:
            d.schemas.validate(bad, spec.schema_ref, file=spec.path, code="POLICY_INVALID")
        assert e.value.message.startswith(f"ENGINE.POLICY_INVALID: {spec.path}: {pointer}: "), (
            e.value.message
        )


@pytest.mark.parametrize(
    ("name", "pointer", "value"),
    [
        ("population_6A", "/mode", "people_based_v1"),
        ("population_6A", "/n_world/min", 0),
        ("population_6A", "/households/size_pmf/0", 1.5),
        ("segmentation_6A", "/business_share/default", 1.0),
        ("products_6A", "/caps_per_party/CURRENT", 0),
        ("products_6A", "/account_types/SAVINGS/party_type", "CORPORATE"),
        ("instruments_6A", "/scheme_mix/NAM/CREDIT_CARD/VISA", -0.1),
        ("devices_6A", "/max_users/public", 61),
        ("ips_6A", "/asn_class_of/TOR_EXIT", "DARKNET"),
        ("fraud_posture_6A", "/prevalence/MULE/RETAIL", 2.0),
        ("rng_6A", "/families/0/law", "poisson"),
    ],
)
def test_6a_policy_ranges_and_vocabularies(name, pointer, value):
    d = load_dictionary()
    spec = d.policy(name)
    doc = yaml.safe_load((ROOT / spec.path).read_text())
    *head, last = pointer[1:].split("/")
    node = at(doc, "/" + "/".join(head)) if head else doc
    node[int(last) if isinstance(node, list) else last] = value
    with pytest.raises(EngineError, match=f"{spec.path}: {pointer}: "):
        d.schemas.validate(doc, spec.schema_ref, file=spec.path, code="POLICY_INVALID")


def test_region_map_codes_are_m49_strings():
    doc = yaml.safe_load((ROOT / "policies/6A/region_map.yaml").read_text())
    codes = [c for cs in doc["regions"].values() for c in cs]
    assert all(isinstance(c, str) and len(c) == 3 for c in codes)
    assert "021" in doc["regions"]["NAM"] and len(codes) == len(set(codes))


# --- RNG family registry ----------------------------------------------------------------------
def _rng_doc():
    return yaml.safe_load((ROOT / "policies/6A/rng.yaml").read_text())


def test_rng_6a_is_the_family_registry():
    doc = _rng_doc()
    assert registry_mismatch(doc) is None
    assert [f["family_id"] for f in doc["families"]] == [f.family_id for f in FAMILIES]
    assert len(FAMILIES) == 29
    by_state = {}
    for f in FAMILIES:
        by_state.setdefault(f.state, []).append(f.family_id.split(".")[2])
        assert f.family_id.startswith(f"6A.{f.state}.")
        # stride B blocks of 2 uniforms; the fixed-stride trace formulas are 2B per unit
        if f.law == "stride":
            assert f.stride >= 1, f.family_id
            assert f.draws == str(2 * f.stride) or f.draws.startswith(f"{2 * f.stride}·")
        else:
            assert f.stride == 0
    assert by_state == {
        "S1": ["world_scale", "split_tb", "party_attr", "household"],
        "S2": ["count_tb", "owner_weight", "alloc", "attr", "holders"],
        "S3": ["card_select", "alloc", "attr", "bin"],
        "S4": [
            "count_tb",
            "owner_weight",
            "alloc",
            "attr",
            "share",
            "public",
            "access",
            "ip_pool",
            "token_bind",
            "ip_edge",
            "ip_pick",
        ],
        "S5": ["target_tb", "select", "ring", "operator", "operator_access"],
    }
    laws = {f.family_id: f.law for f in FAMILIES if f.law != "stride"}
    assert laws == {
        "6A.S2.alloc": "capped_multinomial",
        "6A.S3.alloc": "capped_multinomial",
        "6A.S4.alloc": "capped_multinomial",
        "6A.S4.ip_pick": "capped_multinomial",
        "6A.S5.ring": "ring",
    }
    first = FAMILIES[0]
    assert (first.domain_key, first.stride, first.draws, first.samplers) == (
        "world",
        1,
        "2",
        ("as241",),
    )
    attr = next(f for f in FAMILIES if f.family_id == "6A.S1.party_attr")
    assert attr.domain_key == "{country_iso}|{party_type}|{segment_id}"
    assert attr.draws == "6·parties"


def _edit(fn):
    doc = _rng_doc()
    fn(doc)
    return registry_mismatch(doc)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["families"][2].update(stride=2), "/families/2/stride: 2 != registry 3"),
        (lambda d: d["families"][3].update(draws="2·parties"), "/families/3/draws"),
        (lambda d: d["families"][0].update(samplers=[]), "/families/0/samplers"),
        (lambda d: d["families"][0].update(stride=True), "/families/0/stride"),
        (lambda d: d["families"][6].pop("law"), "/families/6/law: missing"),
        (lambda d: d["families"][1].update(note="x"), "/families/1/note: not a registry field"),
        (lambda d: d["families"].reverse(), "/families/0/family_id: '6A.S5.operator_access'"),
        (lambda d: d["families"].pop(), "28 rows, registry has 29"),
        (lambda d: d["families"].append(dict(d["families"][0])), "/families/29"),
        (lambda d: d.pop("families"), "/families is missing"),
    ],
)
def test_registry_mismatch_names_the_first_difference(edit, fragment):
    msg = _edit(edit)
    assert msg is not None and fragment in msg and "\n" not in msg, msg


# --- profiles -----------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", PROFILES)
def test_6a_profiles_override_exactly_the_spec_leaves(profile):
    """L3.7/§3.9: small overrides nothing (the files hold its values); every other profile
    overrides every 6A leaf of the profile table, each an existing scalar leaf."""
    d = load_dictionary()
    prof = load_profile(profile, d, policies_root())
    got = {k: v for k, v in prof.overrides.items() if k.endswith("_6A")}
    want = LEAVES[profile]
    if profile == "small":
        assert got == {}
    else:
        assert got == want
    for name, leaves in want.items():
        raw = yaml.safe_load((ROOT / d.policy(name).path).read_text())
        doc = load_policy(name, d, policies_root(), prof)
        for pointer, value in leaves.items():
            assert not isinstance(at(raw, pointer), (dict, list)), (name, pointer)
            assert at(doc, pointer) == value, (profile, name, pointer)
            if profile == "small":
                assert at(raw, pointer) == value  # the files hold the small values


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_override_is_an_existing_scalar_leaf(profile):
    d = load_dictionary()
    prof = load_profile(profile, d, policies_root())
    for name, leaves in prof.overrides.items():
        raw = yaml.safe_load((ROOT / d.policy(name).path).read_text())
        for pointer in leaves:
            assert not isinstance(at(raw, pointer), (dict, list)), (profile, name, pointer)
        load_policy(name, d, policies_root(), prof)
