"""6B.S2 target pools (layer3 §4.3 step 1): per typology the eligible targets from the 6A S5
roles, ordered once by an Efraimidis key (family ``6B.S2.pool``, domain key ``{typology}``,
unit = the target's rank in id order, unit weights: the key is the uniform itself, largest
first, ties by id) and consumed in order without replacement; an exhausted pool restarts
from the top (counted as ``pool_wraps``).

A typology with a positive share and an empty pool is ``POOL_EMPTY`` outside tiny; in tiny
(e.g. no COLLUSIVE_MERCHANT among 50 merchants) it is skipped (``F_t = 0``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine_core.errors import EngineError
from engine_core.rng.uniform import uniform01
from engine_core.segments.columns import codes_of

STATE = "6B.S2"
TYPOLOGIES = (
    "CARD_TESTING",
    "STOLEN_CARD_CNP",
    "STOLEN_CARD_CP",
    "ACCOUNT_TAKEOVER",
    "MULE_MONEY_MOVEMENT",
    "FIRST_PARTY_BUST_OUT",
    "MERCHANT_COLLUSION",
)
# typology -> (6A role table, id column, role, exposure channel or None)
TARGETS = {
    "CARD_TESTING": ("s5_instrument_roles_6A", "instrument_id", "COMPROMISED_CARD", "DATA_BREACH"),
    "STOLEN_CARD_CNP": (
        "s5_instrument_roles_6A",
        "instrument_id",
        "COMPROMISED_CARD",
        "DATA_BREACH",
    ),
    "STOLEN_CARD_CP": ("s5_instrument_roles_6A", "instrument_id", "COMPROMISED_CARD", "SKIMMING"),
    "ACCOUNT_TAKEOVER": ("s5_account_roles_6A", "account_id", "COMPROMISED_ACCOUNT", None),
    "MULE_MONEY_MOVEMENT": ("s5_account_roles_6A", "account_id", "MULE_ACCOUNT", None),
    "FIRST_PARTY_BUST_OUT": ("s5_party_roles_6A", "party_id", "SYNTHETIC_IDENTITY", None),
    "MERCHANT_COLLUSION": ("s5_merchant_roles_6A", "merchant_id", "COLLUSIVE_MERCHANT", None),
}


def eligible(io, typology: str) -> np.ndarray:
    """The typology's eligible target ids (sorted, distinct) from its 6A role table."""
    table, col, role, exposure = TARGETS[typology]
    cols = [col, "fraud_role"] + (["exposure_channel"] if exposure else [])
    t = io.read_table(table, cols)
    keep = codes_of(t.column("fraud_role"), [role], missing=-1) == 0
    if exposure:
        keep &= codes_of(t.column("exposure_channel"), [exposure], missing=-1) == 0
    return np.unique(t.column(col).to_numpy()[keep])


@dataclass
class Pool:
    typology: str
    ids: np.ndarray  # in consumption order
    pos: int = 0
    wraps: int = 0
    taken: list = field(default_factory=list)

    def peek(self, n: int) -> np.ndarray:
        """The next ``n`` targets without consuming them (``take`` consumes)."""
        if self.ids.size == 0:
            return self.ids[:0] if n == 0 else self.take(n)
        idx = (self.pos + np.arange(n, dtype=np.int64)) % self.ids.size
        return self.ids[idx]

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` targets (restarting from the top when exhausted; never the same
        target twice inside one take unless the pool is smaller than ``n``)."""
        if self.ids.size == 0:
            raise EngineError("POOL_EMPTY", STATE, f"{self.typology}: no eligible target")
        out = []
        while n > 0:
            if self.pos == self.ids.size:
                self.pos, self.wraps = 0, self.wraps + 1
            k = min(n, self.ids.size - self.pos)
            out.append(self.ids[self.pos : self.pos + k])
            self.pos += k
            n -= k
        return np.concatenate(out)


def order_pool(rng, typology: str, ids: np.ndarray) -> Pool:
    """Efraimidis order with unit weights (largest key first, ties by id); traced as one
    event of 2 draws per eligible target."""
    fam = rng.family("pool")
    ids = np.sort(np.asarray(ids, np.uint64))
    if ids.size == 0:
        return Pool(typology, ids)
    u = uniform01(fam.units(typology, ids.size, 1)[:, 0])
    order = np.lexsort((ids, -u))
    return Pool(typology, ids[order])


def pools(io, rng, shares: dict, profile: str) -> tuple[dict[str, Pool], tuple[str, ...]]:
    """Every typology's pool and the typologies skipped for an empty pool (tiny only)."""
    out, skipped = {}, []
    for t in TYPOLOGIES:
        ids = eligible(io, t)
        if ids.size == 0 and shares.get(t, 0) > 0:
            if profile != "tiny":
                table, _, role, exposure = TARGETS[t]
                what = f"{role}" + (f" ({exposure})" if exposure else "")
                raise EngineError("POOL_EMPTY", STATE, f"{t}: no {what} in {table}")
            skipped.append(t)
        out[t] = order_pool(rng, t, ids)
    return out, tuple(skipped)
