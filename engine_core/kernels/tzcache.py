"""The tz timetable cache (TZC2, layer1 §2A.S2): build by hourly sampling of ``ZoneInfo`` on
the sealed tzdata bytes with integer-second bisection, encode/decode the binary layout, and
vectorised offset lookup (layer2 §1.7 ``tz_offset``).

TZC2 = 64-byte little-endian header · directory (24 B per tzid, sorted by UTF-8 bytes) ·
string table · transitions (i64 instants, i32 offsets, u8 is_dst), each padded to 8 bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zoneinfo
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine_core.errors import EngineError

MAGIC = b"TZC2"
FORMAT_VERSION = 2
HEADER = struct.Struct("<4sHHIIqq16sQQ")
DIR_DTYPE = np.dtype(
    [
        ("name_off", "<u4"),
        ("name_len", "<u2"),
        ("flags", "<u2"),
        ("first", "<u4"),
        ("n", "<u4"),
        ("initial", "<i4"),
        ("zero", "<i4"),
    ]
)
_KEY_SHIFT = 40  # lookup key = zone << 40 | (t − coverage_start): 2^40 s ≫ any coverage


def _zone(tzid: str) -> zoneinfo.ZoneInfo:
    from engine_core.refdata.world import tzdata_zone_bytes

    return zoneinfo.ZoneInfo.from_file(io.BytesIO(tzdata_zone_bytes(tzid)), key=tzid)


def _offset(z, t: int) -> tuple[int, bool]:
    d = dt.datetime.fromtimestamp(t, z)
    return int(d.utcoffset().total_seconds()), d.dst() != dt.timedelta(0)


COARSE = 24  # grid points per coarse probe (one day at the hourly detection step)


def sample_zone(args) -> tuple[str, int, bool, list[tuple[int, int, int, bool]]]:
    """``(tzid, initial_offset, initial_dst, [(instant, offset_after, offset_before, dst)])``.

    Changes are detected on the ``step`` grid over ``[start, end)`` and bisected to the exact
    second. The grid is probed a day at a time and scanned hour by hour only inside days whose
    end offsets differ; a change that reverts within one day would be missed, which no zone of
    the tzdata era does, and the ``hourly_agreement`` gate re-checks every hour independently.
    """
    tzid, start, end, step = args
    z = _zone(tzid)
    off0, dst0 = _offset(z, start)
    grid_end = start + ((end - 1 - start) // step) * step  # last grid point < end
    out = []
    prev_off = off0
    t0 = start
    while t0 < grid_end:  # one probe per day of reference data (≈ 820 per zone)
        t1 = min(t0 + COARSE * step, grid_end)
        if _offset(z, t1)[0] != prev_off:
            t = t0
            while t < t1:  # hour by hour inside the changing day
                off = _offset(z, t + step)[0]
                if off != prev_off:
                    lo, hi = t, t + step  # offset(lo) = old, offset(hi) = new
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        if _offset(z, mid)[0] == prev_off:
                            lo = mid
                        else:
                            hi = mid
                    new_off, new_dst = _offset(z, hi)
                    out.append((hi, new_off, prev_off, new_dst))
                    prev_off = off
                t += step
        t0 = t1
    return tzid, off0, dst0, out


@dataclass(frozen=True)
class TzCache:
    tzids: list[str]
    initial_offset: np.ndarray  # int32 per zone
    initial_dst: np.ndarray  # bool per zone
    first: np.ndarray  # int64 first transition index per zone
    count: np.ndarray  # int64 transitions per zone
    instants: np.ndarray  # int64 seconds, zone-major then time
    offsets: np.ndarray  # int32 offset_after
    is_dst: np.ndarray  # bool
    coverage_start: int
    coverage_end: int
    iana_release: str

    @property
    def before(self) -> np.ndarray:
        """offset in force just before each transition."""
        prev = np.empty_like(self.offsets)
        if self.offsets.size:
            prev[1:] = self.offsets[:-1]
        starts = self.first[self.count > 0]
        prev[starts] = self.initial_offset[self.count > 0]
        return prev

    def zone_index(self, tzids) -> np.ndarray:
        names = np.array(self.tzids, dtype=object)
        idx = np.searchsorted(names, np.asarray(tzids, dtype=object))
        idx = np.minimum(idx, len(names) - 1)
        bad = names[idx] != np.asarray(tzids, dtype=object)
        if np.any(bad):
            raise EngineError("TZ_NOT_IN_TZDATA", detail=f"{np.asarray(tzids)[bad][0]} not cached")
        return idx.astype(np.int64)

    def offset_at(self, zone: np.ndarray, t: np.ndarray) -> np.ndarray:
        """UTC offset (s) of ``zone`` indices at instants ``t`` (s); vectorised search."""
        t = np.asarray(t, dtype=np.int64)
        zone = np.asarray(zone, dtype=np.int64)
        if np.any(t < self.coverage_start) or np.any(t >= self.coverage_end):
            raise EngineError("TZ_CACHE_COVERAGE", detail="instant outside the cache coverage")
        zkey = np.repeat(np.arange(len(self.tzids), dtype=np.int64), self.count)
        keys = (zkey << _KEY_SHIFT) | (self.instants - self.coverage_start)
        q = (zone << _KEY_SHIFT) | (t - self.coverage_start)
        pos = np.searchsorted(keys, q, side="right") - 1
        inside = (pos >= self.first[zone]) & (self.count[zone] > 0)
        return np.where(inside, self.offsets[np.maximum(pos, 0)], self.initial_offset[zone]).astype(
            np.int32
        )


def build(
    tzids: list[str], start: int, end: int, step: int, iana: str, workers: int = 1
) -> TzCache:
    tzids = sorted(tzids, key=lambda s: s.encode("utf-8"))
    jobs = [(z, start, end, step) for z in tzids]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:  # zones are independent
            results = list(ex.map(sample_zone, jobs, chunksize=8))
    else:
        results = [sample_zone(j) for j in jobs]
    count = np.array([len(r[3]) for r in results], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    trans = [t for r in results for t in r[3]]
    return TzCache(
        tzids=tzids,
        initial_offset=np.array([r[1] for r in results], dtype=np.int32),
        initial_dst=np.array([r[2] for r in results], dtype=bool),
        first=first,
        count=count,
        instants=np.array([t[0] for t in trans], dtype=np.int64),
        offsets=np.array([t[1] for t in trans], dtype=np.int32),
        is_dst=np.array([t[3] for t in trans], dtype=bool),
        coverage_start=start,
        coverage_end=end,
        iana_release=iana,
    )


def _pad8(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 8)


def encode(c: TzCache) -> bytes:
    names = [z.encode("utf-8") for z in c.tzids]
    strings = _pad8(b"".join(names))
    name_off = np.concatenate([[0], np.cumsum([len(n) for n in names])[:-1]]).astype(np.int64)
    strings_offset = HEADER.size + DIR_DTYPE.itemsize * len(names)
    transitions_offset = strings_offset + len(strings)
    header = HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        0xFEFF,
        len(names),
        int(c.count.sum()),
        c.coverage_start,
        c.coverage_end,
        c.iana_release.encode("ascii"),
        strings_offset,
        transitions_offset,
    )
    observes = np.zeros(len(names), dtype=bool)
    if c.instants.size:
        zkey = np.repeat(np.arange(len(names)), c.count)
        observes[np.unique(zkey[c.is_dst])] = True
    observes |= c.initial_dst
    d = np.zeros(len(names), dtype=DIR_DTYPE)
    d["name_off"] = name_off
    d["name_len"] = [len(n) for n in names]
    d["flags"] = observes.astype(np.uint16) | (c.initial_dst.astype(np.uint16) << 1)
    d["first"], d["n"], d["initial"] = c.first, c.count, c.initial_offset
    directory = d.tobytes()
    body = _pad8(
        c.instants.astype("<i8").tobytes()
        + c.offsets.astype("<i4").tobytes()
        + c.is_dst.astype("u1").tobytes()
    )
    return header + directory + strings + body


def decode(data: bytes) -> TzCache:
    if len(data) < HEADER.size:
        raise EngineError("TZ_CACHE_INVALID", detail="tz_cache.bin shorter than its header")
    (magic, ver, bom, nz, nt, cs, ce, iana, s_off, t_off) = HEADER.unpack_from(data, 0)
    if magic != MAGIC or ver != FORMAT_VERSION or bom != 0xFEFF:
        raise EngineError("TZ_CACHE_INVALID", detail="tz_cache.bin: bad magic/version/byte order")
    if (
        len(data) != t_off + len(_pad8(b"\0" * (13 * nt)))
        or s_off != HEADER.size + DIR_DTYPE.itemsize * nz
    ):
        raise EngineError("TZ_CACHE_INVALID", detail="tz_cache.bin: sections do not tile the file")
    d = np.frombuffer(data, DIR_DTYPE, nz, HEADER.size)
    names = data[s_off:t_off]
    tzids = [
        names[o : o + ln].decode("utf-8")
        for o, ln in zip(d["name_off"].tolist(), d["name_len"].tolist(), strict=True)
    ]  # ≈ 356 names
    inst = np.frombuffer(data, "<i8", nt, t_off).astype(np.int64)
    offs = np.frombuffer(data, "<i4", nt, t_off + 8 * nt).astype(np.int32)
    dst = np.frombuffer(data, "u1", nt, t_off + 12 * nt).astype(bool)
    return TzCache(
        tzids=tzids,
        initial_offset=d["initial"].astype(np.int32),
        initial_dst=(d["flags"] & 2).astype(bool),
        first=d["first"].astype(np.int64),
        count=d["n"].astype(np.int64),
        instants=inst,
        offsets=offs,
        is_dst=dst,
        coverage_start=cs,
        coverage_end=ce,
        iana_release=iana.rstrip(b"\0").decode("ascii"),
    )


def zoneinfo_offsets(args) -> np.ndarray:
    """``ZoneInfo`` offsets of one zone at the given instants (for the agreement check)."""
    tzid, instants = args
    z = _zone(tzid)
    return np.array([_offset(z, int(t))[0] for t in instants], dtype=np.int32)
