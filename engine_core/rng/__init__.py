"""The one RNG law (ARCHITECTURE §4): Philox2x64-10, stream derivation, samplers, ledger."""

from engine_core.rng.alias import AliasTable, alias_build_nb, alias_pick_nb, build_alias_table
from engine_core.rng.ledger import RngLedger
from engine_core.rng.philox import fill_words, philox2x64_10, philox_array_nb, philox_nb
from engine_core.rng.samplers import LAWS, as241, box_muller, nb2, poisson_inv
from engine_core.rng.streams import Stream, StreamPrefix, ctr_add, derive_stream
from engine_core.rng.uniform import scale53, uniform01

__all__ = [
    "LAWS",
    "RngLedger",
    "fill_words",
    "AliasTable",
    "Stream",
    "StreamPrefix",
    "alias_build_nb",
    "alias_pick_nb",
    "as241",
    "box_muller",
    "build_alias_table",
    "ctr_add",
    "derive_stream",
    "nb2",
    "philox2x64_10",
    "philox_array_nb",
    "philox_nb",
    "poisson_inv",
    "scale53",
    "uniform01",
]
