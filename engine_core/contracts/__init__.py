"""Contracts: dataset dictionary, JSON-Schema packs, policy loading, pyarrow mapping."""

from engine_core.contracts.arrow import arrow_schema
from engine_core.contracts.dictionary import DatasetSpec, Dictionary, PolicySpec, load_dictionary
from engine_core.contracts.policy import Profile, load_policy, load_profile, set_pointer
from engine_core.contracts.schemas import SchemaRegistry, load_yaml

__all__ = [
    "DatasetSpec",
    "Dictionary",
    "PolicySpec",
    "Profile",
    "SchemaRegistry",
    "arrow_schema",
    "load_dictionary",
    "load_policy",
    "load_profile",
    "load_yaml",
    "set_pointer",
]
