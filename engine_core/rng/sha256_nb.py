"""SHA-256 of many short messages sharing a prefix, compiled (layer2 §3.0).

Every stream of a family shares the message prefix ``UER(domain_sep)‖…‖UER(scenario_id)``; it
is hashed once (:func:`midstate`), and each row then costs only its own suffix. Two engines
give the same bytes (tests compare both with ``hashlib``): OpenSSL's libcrypto called from
numba through ctypes (SHA-NI where the CPU has it, ≈ 0.27 µs per key) when it can be loaded,
else a pure numba compression (≈ 0.4–0.6 µs per key). ``FWE_SHA256=numba`` forces the latter
(tests run both engines).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint64,
)  # fmt: skip
_H0 = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
     0x5BE0CD19],
    dtype=np.uint32,
)  # fmt: skip
MAX_SUFFIX = 180  # bytes of one row's suffix (UER(key) of the longest key law is < 100)


_K32 = _K.astype(np.uint32)


@njit(nogil=True, cache=True, inline="always")
def _rotr(x, n):
    # explicit uint32 casts: numba widens integer arithmetic, LLVM narrows it back to i32 ops
    return np.uint32((x >> np.uint32(n)) | (x << np.uint32(32 - n)))


@njit(nogil=True, cache=True)
def _compress(state, buf, off, w):
    """One SHA-256 compression of ``buf[off:off+64]`` into ``state`` (uint32[8])."""
    for i in range(16):
        p = off + 4 * i
        w[i] = np.uint32(
            (np.uint32(buf[p]) << np.uint32(24))
            | (np.uint32(buf[p + 1]) << np.uint32(16))
            | (np.uint32(buf[p + 2]) << np.uint32(8))
            | np.uint32(buf[p + 3])
        )
    for i in range(16, 64):
        x = w[i - 15]
        y = w[i - 2]
        s0 = _rotr(x, 7) ^ _rotr(x, 18) ^ np.uint32(x >> np.uint32(3))
        s1 = _rotr(y, 17) ^ _rotr(y, 19) ^ np.uint32(y >> np.uint32(10))
        w[i] = np.uint32(w[i - 16] + s0 + w[i - 7] + s1)
    a = state[0]
    b = state[1]
    c = state[2]
    d = state[3]
    e = state[4]
    f = state[5]
    g = state[6]
    h = state[7]
    for i in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = np.uint32((e & f) ^ (~e & g))
        t1 = np.uint32(h + s1 + ch + _K32[i] + w[i])
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = np.uint32((a & b) ^ (a & c) ^ (b & c))
        t2 = np.uint32(s0 + maj)
        h = g
        g = f
        f = e
        e = np.uint32(d + t1)
        d = c
        c = b
        b = a
        a = np.uint32(t1 + t2)
    state[0] = np.uint32(state[0] + a)
    state[1] = np.uint32(state[1] + b)
    state[2] = np.uint32(state[2] + c)
    state[3] = np.uint32(state[3] + d)
    state[4] = np.uint32(state[4] + e)
    state[5] = np.uint32(state[5] + f)
    state[6] = np.uint32(state[6] + g)
    state[7] = np.uint32(state[7] + h)


@njit(nogil=True, cache=True)
def _finish(mid, tail, prefix_len, suf, s0, s1, buf, state, w):
    """Digest state of prefix ‖ suf[s0:s1], starting from the prefix midstate."""
    nt = tail.shape[0]
    n = nt + (s1 - s0)
    for i in range(nt):
        buf[i] = tail[i]
    for i in range(s1 - s0):
        buf[nt + i] = suf[s0 + i]
    buf[n] = 0x80
    total = ((n + 1 + 8 + 63) // 64) * 64
    for i in range(n + 1, total - 8):
        buf[i] = 0
    bits = np.uint64(prefix_len + (s1 - s0)) * np.uint64(8)
    for i in range(8):
        buf[total - 1 - i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
    for i in range(8):
        state[i] = mid[i]
    for off in range(0, total, 64):
        _compress(state, buf, off, w)


@njit(nogil=True, cache=True)
def _words3(state, out_key, out_hi, out_lo, r):
    out_key[r] = (np.uint64(state[0]) << np.uint64(32)) | np.uint64(state[1])
    out_hi[r] = (np.uint64(state[2]) << np.uint64(32)) | np.uint64(state[3])
    out_lo[r] = (np.uint64(state[4]) << np.uint64(32)) | np.uint64(state[5])


@njit(nogil=True, cache=True)
def derive_suffixes_nb(mid, tail, prefix_len, suf, suf_off, out_key, out_hi, out_lo):
    """Stream words (A§4: key, ctr_hi, ctr_lo) of prefix ‖ suffix for every suffix
    ``suf[suf_off[i]:suf_off[i+1]]``."""
    buf = np.empty(64 + MAX_SUFFIX + 72, dtype=np.uint8)
    state = np.empty(8, dtype=np.uint32)
    w = np.empty(64, dtype=np.uint32)
    for r in range(suf_off.shape[0] - 1):
        _finish(mid, tail, prefix_len, suf, suf_off[r], suf_off[r + 1], buf, state, w)
        _words3(state, out_key, out_hi, out_lo, r)


@njit(nogil=True, cache=True, inline="always")
def _decimal_digits(v, digits):
    """Decimal digits of ``v ≥ 0`` into ``digits``, least significant first; returns count."""
    nd = 0
    while True:
        digits[nd] = np.uint8(48 + v % 10)
        v //= 10
        nd += 1
        if v == 0:
            return nd


@njit(nogil=True, cache=True, inline="always")
def _put_be32(buf, pos, x):
    buf[pos] = np.uint8((x >> 24) & 0xFF)
    buf[pos + 1] = np.uint8((x >> 16) & 0xFF)
    buf[pos + 2] = np.uint8((x >> 8) & 0xFF)
    buf[pos + 3] = np.uint8(x & 0xFF)


@njit(nogil=True, cache=True)
def derive_bucket_keys_nb(
    mid, tail, prefix_len, dom, dom_off, row_dom, row_bucket, out_key, out_hi, out_lo
):
    """Streams of ``UER("{domain prefix}{bucket_index}")`` per row: ``dom`` holds each domain
    row's ``"{merchant_id}|{tzid}|{channel_group}|"`` bytes, the decimal index is appended
    here (layer2 §3.0 key law). Rows of one domain row are consecutive, so the padded message
    is rebuilt only when the domain row or the digit count changes; otherwise only the digits
    are rewritten before the one or two compressions."""
    buf = np.zeros(64 + MAX_SUFFIX + 72, dtype=np.uint8)
    digits = np.empty(12, dtype=np.uint8)
    state = np.empty(8, dtype=np.uint32)
    pre = np.empty(8, dtype=np.uint32)  # state after the blocks that end before the digits
    w = np.empty(64, dtype=np.uint32)
    nt = tail.shape[0]
    for i in range(nt):
        buf[i] = tail[i]
    prev_d, prev_nd, total, dpos, first = -1, -1, 0, 0, 0
    for r in range(row_dom.shape[0]):
        d = row_dom[r]
        nd = _decimal_digits(np.int64(row_bucket[r]), digits)
        if d != prev_d or nd != prev_nd:
            a, b = dom_off[d], dom_off[d + 1]
            klen = (b - a) + nd
            p = nt
            _put_be32(buf, p, klen)
            p += 4
            for i in range(b - a):
                buf[p + i] = dom[a + i]
            dpos = p + (b - a)
            n = dpos + nd
            buf[n] = 0x80
            total = ((n + 1 + 8 + 63) // 64) * 64
            for i in range(n + 1, total - 8):
                buf[i] = 0
            bits = np.uint64(prefix_len + 4 + klen) * np.uint64(8)
            for i in range(8):
                buf[total - 1 - i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
            for i in range(8):
                pre[i] = mid[i]
            first = (dpos // 64) * 64
            for off in range(0, first, 64):
                _compress(pre, buf, off, w)
            prev_d, prev_nd = d, nd
        for i in range(nd):
            buf[dpos + i] = digits[nd - 1 - i]
        for i in range(8):
            state[i] = pre[i]
        for off in range(first, total, 64):
            _compress(state, buf, off, w)
        _words3(state, out_key, out_hi, out_lo, r)


@njit(nogil=True, cache=True)
def sha256_slices_nb(data, offsets, lengths, out):
    """Full SHA-256 of each ``data[offsets[i]:offsets[i]+lengths[i]]`` into ``out[i, 0:32]``
    (alias table verification; no midstate)."""
    w = np.empty(64, dtype=np.uint32)
    state = np.empty(8, dtype=np.uint32)
    last = np.empty(128, dtype=np.uint8)
    for r in range(offsets.shape[0]):
        o, n = offsets[r], lengths[r]
        for i in range(8):
            state[i] = _H0[i]
        full = n // 64
        for k in range(full):
            _compress(state, data, o + 64 * k, w)
        rem = n - 64 * full
        for i in range(rem):
            last[i] = data[o + 64 * full + i]
        last[rem] = 0x80
        total = ((rem + 1 + 8 + 63) // 64) * 64
        for i in range(rem + 1, total - 8):
            last[i] = 0
        bits = np.uint64(n) * np.uint64(8)
        for i in range(8):
            last[total - 1 - i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
        for off in range(0, total, 64):
            _compress(state, last, off, w)
        for i in range(8):
            for j in range(4):
                out[r, 4 * i + j] = np.uint8((state[i] >> np.uint32(24 - 8 * j)) & np.uint32(0xFF))


# --- Python side -----------------------------------------------------------------------------
def _pure_compress(state: list[int], block: bytes) -> list[int]:
    """One compression in Python (only for the prefix midstate: a handful per family)."""
    m = 0xFFFFFFFF

    def rotr(x, n):
        return ((x >> n) | (x << (32 - n))) & m

    w = [int.from_bytes(block[4 * i : 4 * i + 4], "big") for i in range(16)]
    for i in range(16, 64):
        s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & m)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (
            h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + int(_K[i]) + w[i]
        ) & m
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & m
        a, b, c, d, e, f, g, h = (t1 + t2) & m, a, b, c, (d + t1) & m, e, f, g
    return [(x + y) & m for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True)]


@dataclass(frozen=True)
class Midstate:
    """The compressed full blocks of a message prefix, its tail and total length, and (when
    libcrypto is available) an OpenSSL ``SHA256_CTX`` that has absorbed the prefix."""

    mid: np.ndarray  # uint32[8]
    tail: np.ndarray  # uint8[< 64]
    prefix_len: int
    ctx: np.ndarray | None = None  # opaque SHA256_CTX bytes (112 used of 128)


def midstate(prefix: bytes) -> Midstate:
    state = [int(x) for x in _H0]
    full = len(prefix) // 64
    for k in range(full):
        state = _pure_compress(state, prefix[64 * k : 64 * k + 64])
    ctx = None
    ossl = _openssl()
    if ossl is not None:
        ctx = np.zeros(128, dtype=np.uint8)
        data = np.frombuffer(prefix, dtype=np.uint8).copy()
        ossl.init(ctx.ctypes.data)
        ossl.update(ctx.ctypes.data, data.ctypes.data, len(prefix))
    return Midstate(
        np.array(state, dtype=np.uint32),
        np.frombuffer(prefix[64 * full :], dtype=np.uint8).copy(),
        len(prefix),
        ctx,
    )


@dataclass(frozen=True)
class _OpenSSL:
    init: object
    update: object
    final: object


@functools.cache
def _openssl() -> _OpenSSL | None:
    """libcrypto's SHA256_Init/Update/Final as numba-callable ctypes functions, or None. The
    kernels take them as arguments, so they stay cacheable (no address baked into the code)."""
    if os.environ.get("FWE_SHA256", "").lower() == "numba":
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
        u64 = ctypes.c_uint64  # pointers passed as 64-bit integers (SysV/Win64 ABIs agree)
        init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
    except (OSError, AttributeError):
        return None
    init.argtypes, init.restype = [u64], ctypes.c_int
    update.argtypes, update.restype = [u64, u64, u64], ctypes.c_int
    final.argtypes, final.restype = [u64, u64], ctypes.c_int
    return _OpenSSL(init, update, final)


@njit(nogil=True, cache=True)
def _ossl_bucket_keys(
    update, final, ctx0, dom, dom_off, row_dom, row_bucket, out_key, out_hi, out_lo
):
    ctx = np.empty_like(ctx0)
    pre = np.empty_like(ctx0)
    buf = np.empty(MAX_SUFFIX, dtype=np.uint8)
    digits = np.empty(12, dtype=np.uint8)
    md = np.empty(32, dtype=np.uint8)
    prev_d, prev_nd = -1, -1
    for r in range(row_dom.shape[0]):
        d = row_dom[r]
        nd = _decimal_digits(np.int64(row_bucket[r]), digits)
        if d != prev_d or nd != prev_nd:  # UER length + domain prefix, absorbed once
            a, b = dom_off[d], dom_off[d + 1]
            klen = (b - a) + nd
            _put_be32(buf, 0, klen)
            for i in range(b - a):
                buf[4 + i] = dom[a + i]
            pre[:] = ctx0
            update(pre.ctypes.data, buf.ctypes.data, 4 + (b - a))
            prev_d, prev_nd = d, nd
        for i in range(nd):
            buf[i] = digits[nd - 1 - i]
        ctx[:] = pre
        update(ctx.ctypes.data, buf.ctypes.data, nd)
        final(md.ctypes.data, ctx.ctypes.data)
        _md_words(md, out_key, out_hi, out_lo, r)


@njit(nogil=True, cache=True)
def _ossl_suffixes(update, final, ctx0, suf, suf_off, out_key, out_hi, out_lo):
    ctx = np.empty_like(ctx0)
    md = np.empty(32, dtype=np.uint8)
    for r in range(suf_off.shape[0] - 1):
        ctx[:] = ctx0
        update(ctx.ctypes.data, suf.ctypes.data + suf_off[r], suf_off[r + 1] - suf_off[r])
        final(md.ctypes.data, ctx.ctypes.data)
        _md_words(md, out_key, out_hi, out_lo, r)


@njit(nogil=True, cache=True)
def _md_words(md, out_key, out_hi, out_lo, r):
    k = np.uint64(0)
    h = np.uint64(0)
    lo = np.uint64(0)
    for j in range(8):
        k = (k << np.uint64(8)) | np.uint64(md[j])
        h = (h << np.uint64(8)) | np.uint64(md[8 + j])
        lo = (lo << np.uint64(8)) | np.uint64(md[16 + j])
    out_key[r] = k
    out_hi[r] = h
    out_lo[r] = lo


def bucket_streams(ms: Midstate, dom, dom_off, row_dom, row_bucket):
    """``(key, ctr_hi, ctr_lo)`` of ``UER("{domain prefix}{bucket}")`` per row (S3/S4 law)."""
    n = row_dom.shape[0]
    key, hi, lo = (np.empty(n, dtype=np.uint64) for _ in range(3))
    rd = np.asarray(row_dom, dtype=np.int64)
    rb = np.asarray(row_bucket, dtype=np.int64)
    if ms.ctx is not None:
        o = _openssl()
        _ossl_bucket_keys(o.update, o.final, ms.ctx, dom, dom_off, rd, rb, key, hi, lo)
    else:
        derive_bucket_keys_nb(ms.mid, ms.tail, ms.prefix_len, dom, dom_off, rd, rb, key, hi, lo)
    return key, hi, lo


def string_buffers(arr) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes and int64 offsets of a string array (zero-copy view of Arrow buffers)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.cast(arr, pa.large_string())
    if arr.null_count:
        raise ValueError("string_buffers: nulls are not allowed")
    _, off_buf, data_buf = arr.buffers()
    off = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    return data, off


def uer_suffixes(*columns) -> tuple[np.ndarray, np.ndarray]:
    """Flat bytes and offsets of ``UER(c1[i]) ‖ UER(c2[i]) ‖ …`` per row (A§3 encoding),
    assembled with vectorised numpy (no per-row Python)."""
    parts = [
        string_buffers(
            pa.array(c, pa.large_string()) if not isinstance(c, pa.Array | pa.ChunkedArray) else c
        )
        for c in columns
    ]
    n = parts[0][1].shape[0] - 1
    lens = [np.diff(off) for _, off in parts]
    row_len = sum(4 + ln for ln in lens)
    out_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_len, out=out_off[1:])
    out = np.empty(int(out_off[-1]), dtype=np.uint8)
    pos = out_off[:-1].copy()
    for (data, off), ln in zip(parts, lens, strict=True):
        be = ln.astype(">u4").view(np.uint8).reshape(-1, 4)
        for j in range(4):  # the four length bytes
            out[pos + j] = be[:, j]
        pos += 4
        # scatter each row's bytes: destination index = pos[row] + (k − off[row])
        row = np.repeat(np.arange(n), ln)
        src = np.arange(int(off[0]), int(off[-1]), dtype=np.int64)
        out[pos[row] + (src - off[:-1][row])] = data[src]
        pos += ln
    return out, out_off


def derive_streams(prefix: bytes, suf: np.ndarray, suf_off: np.ndarray):
    """``(key, ctr_hi, ctr_lo)`` uint64 vectors for ``SHA256(prefix ‖ suffix_i)``."""
    ms = midstate(prefix)
    n = suf_off.shape[0] - 1
    if n and int(np.diff(suf_off).max()) > MAX_SUFFIX:
        raise ValueError(f"a stream key suffix is longer than {MAX_SUFFIX} bytes")
    k, h, lo = (np.empty(n, dtype=np.uint64) for _ in range(3))
    suf = np.ascontiguousarray(suf, dtype=np.uint8)
    if ms.ctx is not None:
        o = _openssl()
        _ossl_suffixes(o.update, o.final, ms.ctx, suf, suf_off, k, h, lo)
    else:
        derive_suffixes_nb(ms.mid, ms.tail, ms.prefix_len, suf, suf_off, k, h, lo)
    return k, h, lo


def sha256_hex_slices(data: np.ndarray, offsets, lengths) -> list[str]:
    out = np.empty((len(offsets), 32), dtype=np.uint8)
    sha256_slices_nb(
        data, np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int64), out
    )
    return bytes(out).hex(sep=" ", bytes_per_sep=-32).split(" ") if out.shape[0] else []
