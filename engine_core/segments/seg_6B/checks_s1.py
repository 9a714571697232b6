"""6B.S1 in-state integrity (layer3 §4.7: I01, I04, I05, I06, I10), run on every run table
before it is written and on the RNG trace before the ledger is published; a failure raises
(blocking ERROR) and nothing is published."""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.lookup import SortedIndex

STATE = "6B.S1"
CP_ENTRY = ("CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL_KEYED")


def _fail(check: str, msg: str, rows: np.ndarray | None = None):
    extra = f" ({int(rows.sum())} rows)" if rows is not None else ""
    raise EngineError("CHECK_FAILED", STATE, f"6B-{check}: {msg}{extra}")


def i01_run(ids: np.ndarray, ts: np.ndarray, part: int) -> None:
    """``txn_id`` non-zero and unique; the run strictly sorted by ``(ts_utc, txn_id)``."""
    if (ids == 0).any():
        _fail("I01", f"part {part}: txn_id 0", ids == 0)
    if ids.size > 1:
        step = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))
        if not step.all():
            _fail("I01", f"part {part}: not strictly sorted by (ts_utc, txn_id)", ~step)


def i04_channels(c: dict, wallet: np.ndarray, part: int) -> None:
    """CNP ⇔ edge, no site, ECOM/ECOM_TOKEN; CP ⇔ site and terminal, card-present entry, no
    IP, device ⇔ contactless wallet; online banking ⇔ no merchant; parent only on refunds."""
    ch, entry = c["channel"], c["entry"]
    cnp, cp, ob = ch == 1, ch == 0, ch == 2
    edge, site, term = c["edge"] != 0, c["site"] >= 0, c["term"] >= 0
    dev, ip = c["dev"] >= 0, c["ip"] >= 0
    bad = cnp & ~(edge & ~site & np.isin(entry, [4, 5]))
    bad |= cp & ~(site & term & ~edge & (entry <= 3) & ~ip & (dev == (wallet & (entry == 1))))
    bad |= ob != (c["m"] < 0)
    bad |= (c["parent"] != 0) & (c["type"] != 1)
    if bad.any():
        first = int(np.asarray(c["txn_index"])[bad][0])
        _fail("I04", f"part {part}: channel-incoherent rows (first txn_index {first})", bad)


def i05_entities(rows: dict, w, part: int) -> None:
    """Instrument held by the payer on the row's account; a legit device linked to the payer
    (own/shared, card on file, bound token device, account access, terminal of the site);
    a wallet's device its bound device; an IP linked to the device or in the trip pool."""
    inst, party, account = rows["inst"], rows["party"], rows["account"]
    bad = (w.inst.holder[inst] != party) | (w.inst.account[inst] != account)
    if bad.any():
        _fail("I05", f"part {part}: instrument not the payer's on that account", bad)
    dev = rows["dev"]
    has = (dev >= 0) & (rows["channel"] >= 1)  # CP devices are contactless wallets
    tok = w.inst.type[inst] == 4
    bad = (dev >= 0) & tok & (w.inst.bound[inst] != dev)
    if bad.any():
        _fail("I05", f"part {part}: a wallet row on a device other than its bound one", bad)
    ok = ~has | tok
    ok |= _pair_in(w.party_device_keys, party, dev)
    ok |= _pair_in(w.cof_keys, inst, dev)
    ok |= _pair_in(w.access_keys, party, dev)
    if not ok.all():
        _fail("I05", f"part {part}: a device not linked to the payer", ~ok)
    ip, used = rows["ip"], rows["dev_used"]  # the IP is the used device's, reported or not
    ok = (ip < 0) | ((used >= 0) & _pair_in(w.device_ip_keys, np.maximum(used, 0), ip))
    ok |= w.trip_pool_ip[np.maximum(ip, 0)]
    if not ok.all():
        _fail("I05", f"part {part}: an IP neither linked to the device nor a trip pool IP", ~ok)


def _pair_in(index: SortedIndex, a, b) -> np.ndarray:
    key = np.asarray(a, np.uint64) << np.uint64(32) | np.asarray(np.maximum(b, 0), np.uint64)
    return index.contains(key)


def pair_index(a, b) -> SortedIndex:
    key = np.asarray(a, np.uint64) << np.uint64(32) | np.asarray(b, np.uint64)
    return SortedIndex(np.unique(key))


def i06_clock(rows: dict, party_tz, h0: int, h_end: int, local_of, part: int) -> None:
    ts = rows["ts"]
    bad = (ts < h0) | (ts >= h_end)
    if bad.any():
        _fail("I06", f"part {part}: ts_utc outside [h0, h_end)", bad)
    want = local_of(rows["tz"], ts)
    cnp_ob = rows["channel"] >= 1
    bad = cnp_ob & (rows["tz"] != party_tz)
    if bad.any():
        _fail("I06", f"part {part}: CNP/online-banking row not on the payer's home_tzid", bad)
    bad = want != rows["ts_local"]
    if bad.any():
        _fail("I06", f"part {part}: ts_local is not ts_utc in tzid", bad)


def i10_trace(ledger, expect: dict[str, int], state: str = STATE) -> None:
    got = ledger.totals()
    for fam, draws in expect.items():
        have = got.get(fam, {}).get("draws", 0)
        if have != draws:
            raise EngineError(
                "RNG_TRACE_MISMATCH", state, f"6B-I10: {fam} traced {have} draws, formula {draws}"
            )
