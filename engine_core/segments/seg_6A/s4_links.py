"""6A.S4 device link table (layer3 §3.5): every link role as one row of (device, role,
target id); the target column a role fills is derived from the role, so no row carries
the four empty id columns of the others until the Arrow table is built."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A import s4_devices as D

R = {r: i for i, r in enumerate(D.LINK_ROLES)}
COLUMN_ROLES = {  # target column → the roles that fill it (layer3 §3.5, 6A-I06)
    "party_id": ("PRIMARY_OWNER", "SHARED_USER"),
    "account_id": ("ACCOUNT_ACCESS",),
    "instrument_id": ("CARD_ON_FILE", "TOKEN_BINDING"),
    "site_id": ("MERCHANT_TERMINAL",),
}


@dataclass(frozen=True)
class Links:
    dev: np.ndarray  # device row
    role: np.ndarray  # code into LINK_ROLES
    target: np.ndarray  # u64 id of the role's target (party, account, instrument, site)

    @property
    def size(self) -> int:
        return int(self.dev.size)

    def targets(self, *roles: str) -> np.ndarray:
        return self.target[np.isin(self.role, [R[r] for r in roles])]

    def table(self, device_id: np.ndarray, merchant_of_device: np.ndarray) -> pa.Table:
        cols = {
            "device_id": device_id[self.dev],
            "link_role": base.coded(self.role, list(D.LINK_ROLES)),
        }
        for col, roles in COLUMN_ROLES.items():
            m = np.isin(self.role, [R[r] for r in roles]) & (self.target > 0)
            cols[col] = base.nullable_u64(np.where(m, self.target, 0), m)
            if col == "instrument_id":  # the schema's column order: merchant before site
                term = self.role == R["MERCHANT_TERMINAL"]
                merchant = np.where(term, merchant_of_device[self.dev], 0).astype(np.uint64)
                cols["merchant_id"] = base.nullable_u64(merchant, merchant > 0)
        return pa.table(cols)


def device_links(cells, dev, users, access, tokens) -> Links:
    """``users``: (owned device rows, shared/public device rows, their member rows);
    ``access``: (kind 0 account / 1 card, device rows, target rows, account ids, instrument
    ids); ``tokens``: (token instrument rows, bound device rows)."""
    party_dev, sh_dev, sh_mem = users
    l_kind, l_dev, l_target, acc_id, inst_id = access
    tok_rows, t_dev = tokens
    term = np.flatnonzero(dev["kind"] == 2)
    parts = [
        (party_dev, "PRIMARY_OWNER", cells.pid[dev["owner"][party_dev]]),
        (sh_dev, "SHARED_USER", cells.pid[sh_mem]),
        (l_dev[l_kind == 0], "ACCOUNT_ACCESS", acc_id[l_target[l_kind == 0]]),
        (l_dev[l_kind == 1], "CARD_ON_FILE", inst_id[l_target[l_kind == 1]]),
        (t_dev, "TOKEN_BINDING", inst_id[tok_rows]),
        (term, "MERCHANT_TERMINAL", dev["site"][term]),
    ]
    return Links(
        np.concatenate([d for d, _, _ in parts]),
        np.concatenate([np.full(d.size, R[r]) for d, r, _ in parts]),
        np.concatenate([t.astype(np.uint64) for _, _, t in parts]),
    )
