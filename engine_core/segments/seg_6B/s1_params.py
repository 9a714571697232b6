"""6B.S1 policy parameters as arrays indexed by the kernel's codes (layer3 §4.2): MCC →
amount group (``MCC_GROUP_OVERLAP`` when an MCC is in two groups), per-group price laws and
flow rates, per-region route/entry/auth mixes, per-segment shifts and the decline-code laws
(N7 only on CNP). Mixes are cumulative distributions for one-uniform inverse-CDF picks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.errors import EngineError
from engine_core.rng.detmath import log

STATE = "6B.S1"
CHANNELS = ("CP", "CNP", "ONLINE_BANKING")
ENTRY_CP = ("CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL_KEYED")
AUTH_MIX = ("NONE", "THREE_DS_FRICTIONLESS", "THREE_DS_CHALLENGE")
CODES = ("00", "05", "14", "51", "54", "59", "N7")
INSTRUMENT_TYPES = (
    "DEBIT_CARD",
    "CREDIT_CARD",
    "PREPAID_CARD",
    "VIRTUAL_CARD",
    "WALLET_TOKEN",
    "TRANSFER_HANDLE",
)


def _expand(item) -> list[int]:
    if isinstance(item, str):
        lo, hi = (int(x) for x in item.split("-"))
        return list(range(lo, hi + 1))
    return [int(item)]


def mcc_groups(amounts: dict) -> tuple[list[str], dict[int, int]]:
    """Group names (policy order, DEFAULT last) and ``{mcc: group code}``."""
    names = [g for g in amounts["groups"] if g != "DEFAULT"] + ["DEFAULT"]
    of: dict[int, int] = {}
    for gi, g in enumerate(names):
        for item in amounts["groups"][g]["mcc"]:
            for m in _expand(item):
                if m in of:
                    raise EngineError(
                        "MCC_GROUP_OVERLAP",
                        STATE,
                        f"policies/6B/amounts.yaml: MCC {m} is in /groups/{names[of[m]]} "
                        f"and /groups/{g}",
                    )
                of[m] = gi
    return names, of


def _cdf(mix: dict, keys) -> np.ndarray:
    w = np.array([float(mix.get(k, 0.0)) for k in keys])
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def _by(d: dict, keys, default_key="default") -> np.ndarray:
    return np.array([float(d.get(k, d[default_key])) for k in keys])


@dataclass(frozen=True)
class Params:
    groups: list[str]
    mcc_group: dict[int, int]
    ln_median: np.ndarray  # per group
    sigma: np.ndarray
    business_share: np.ndarray
    p_refund: np.ndarray
    p_verify: np.ndarray
    p_cnp_domestic: np.ndarray  # per region
    entry_cdf: np.ndarray  # (regions, 4)
    auth_cdf: np.ndarray  # (regions, 3)
    seg_shift: np.ndarray  # per segment: amount log shift
    seg_beta: np.ndarray  # per segment: decline log-odds shift
    beta0: np.ndarray  # per channel
    code_cdf: np.ndarray  # (2, 7): CP (no N7), CNP; code 0 ("00") has mass 0
    type_pref: np.ndarray  # (2, instrument types): CP, CNP
    scalars: dict


def params(att: dict, amt: dict, auth: dict, flows: dict, regions, segments) -> Params:
    names, of = mcc_groups(amt)
    g = amt["groups"]
    codes = {k: float(v) for k, v in auth["decline_codes"].items()}
    cp = _cdf({k: v for k, v in codes.items() if k != "N7"}, CODES)
    cnp = _cdf(codes, CODES)
    return Params(
        groups=names,
        mcc_group=of,
        ln_median=log(np.array([float(g[n]["median_usd"]) for n in names])),
        sigma=np.array([float(g[n]["sigma"]) for n in names]),
        business_share=_by(att["business_share"], names),
        p_refund=_by(flows["p_refund"], names),
        p_verify=_by(flows["p_verify"], names),
        p_cnp_domestic=_by(att["p_cnp_domestic"], regions),
        entry_cdf=np.stack(
            [
                _cdf(auth["entry_mix"].get(r, auth["entry_mix"]["default"]), ENTRY_CP)
                for r in regions
            ]
        ).reshape(len(regions), len(ENTRY_CP)),
        auth_cdf=np.stack(
            [
                _cdf(auth["cnp_auth_mix"].get(r, auth["cnp_auth_mix"]["default"]), AUTH_MIX)
                for r in regions
            ]
        ).reshape(len(regions), len(AUTH_MIX)),
        seg_shift=np.array([float(amt["segment_log_shift"].get(s, 0.0)) for s in segments]),
        seg_beta=np.array([float(auth["beta"]["segment"].get(s, 0.0)) for s in segments]),
        beta0=np.array([float(auth["beta0"][c]) for c in CHANNELS]),
        code_cdf=np.stack([cp, cnp]),
        type_pref=np.array(
            [
                [float(att["type_pref"][ch].get(t, 0.0)) for t in INSTRUMENT_TYPES]
                for ch in ("CP", "CNP")
            ]
        ),
        scalars={
            "p_local": float(att["p_local"]),
            "boost": float(att["traveller_spend_boost"]),
            "p_device_data": float(att["availability"]["p_device_data"]),
            "p_ip_data": float(att["availability"]["p_ip_data"]),
            "p_cof": float(att["choice"]["p_cof_device"]),
            "p_trip_ip": float(att["choice"]["p_trip_local_ip"]),
            "clip_min": float(amt["clip_usd"]["min"]),
            "clip_max": float(amt["clip_usd"]["max"]),
            "tilt_sigma": float(amt["merchant_tilt_sigma"]),
            "travel_shift": float(amt["traveller_log_shift"]),
            "b_xb": float(auth["beta"]["cross_border"]),
            "b_prepaid": float(auth["beta"]["prepaid"]),
            "b_amount": float(auth["beta"]["amount"]),
            "ln_refund_delay": float(log(np.array([float(flows["refund_delay_median_days"])]))[0]),
            "p_refund_full": float(flows["p_refund_full"]),
            "p_refund_unlinked": float(flows["p_refund_unlinked"]),
            "p_verify_zero": float(flows["p_verify_zero"]),
        },
    )


def group_of_mcc(p: Params, mcc: np.ndarray) -> np.ndarray:
    """Amount group code of each MCC (DEFAULT for an unlisted one)."""
    lut = np.full(10_000, len(p.groups) - 1, np.int64)
    for m, gi in p.mcc_group.items():
        lut[m] = gi
    return lut[np.asarray(mcc, np.int64)]
