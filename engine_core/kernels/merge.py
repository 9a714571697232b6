"""k-way heap merge of sorted runs keyed by ``(ts int64, id uint64)`` (layer3 §4.4 step 1),
streamed in output windows so memory is bounded by the window, not by the runs.

Each run is an iterator of key batches ``(ts, ids, payload)``; the merge holds one batch of
keys per run in a fixed ``(runs, width)`` buffer and the payloads not yet emitted. The numba
kernel pops the smallest head from a binary heap of runs (≈ log2(runs) comparisons a row)
and returns when the window is full, when every run is spent, or when a run's buffered keys
run dry (it must stall there: the run's next key is unknown). Python then refills that one
run and calls again — a refill per batch, so the heap rebuild on re-entry is noise.

A window is a prefix of what remains of every run, so it takes one contiguous slice per run:
``Window.pieces[r]`` lists the payload slices that make up run r's share, in order, and the
global order is ``(run, row)`` with ``row`` the row number inside the run. Equal keys never
occur in a valid input (ids are unique); the output must rise strictly, and the first key
that does not (an unsorted run, a repeated key) stops the merge with its position."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit

WINDOW_ROWS = 1_000_000  # output rows per window (= one row group of the S3 tables)

LIMIT, DONE, STALL, VIOLATION = 0, 1, 2, 3


class MergeOrderError(ValueError):
    """The merged output would not rise strictly at global row ``position``."""

    def __init__(self, position: int, run: int, row: int):
        self.position, self.run, self.row = position, run, row
        super().__init__(
            f"output row {position} (run {run}, row {row}) is not above the row before it: "
            "a run is not strictly sorted by (ts, id) or a key repeats"
        )


@njit(nogil=True, cache=True, inline="always")
def _less(ts, ids, pos, a, b):
    ta, tb = ts[a, pos[a]], ts[b, pos[b]]
    if ta != tb:
        return ta < tb
    ia, ib = ids[a, pos[a]], ids[b, pos[b]]
    if ia != ib:
        return ia < ib
    return a < b  # only reached by a repeated key, which the caller rejects


@njit(nogil=True, cache=True, inline="always")
def _sift_down(heap, n, ts, ids, pos):
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            return
        if c + 1 < n and _less(ts, ids, pos, heap[c + 1], heap[c]):
            c += 1
        if not _less(ts, ids, pos, heap[c], heap[i]):
            return
        heap[i], heap[c] = heap[c], heap[i]
        i = c


@njit(nogil=True, cache=True)
def merge_block(ts, ids, pos, length, done, base, last_ts, last_id, out_run, out_row, n_out):
    """Merge from the buffered heads into ``out_run/out_row[n_out:]`` until they are full.

    ``ts, ids``: ``(runs, width)`` key buffers; run r's unread keys are columns
    ``pos[r] … length[r]−1``; ``done[r]``: no keys after the buffer; ``base[r]``: run row of
    buffer column 0. ``last_ts/last_id``: 1-element state of the last emitted key
    (``last_id[1]`` = 1 once a key was emitted). Returns ``(n_out, status, run)``: status
    LIMIT (outputs full), DONE (every run spent), STALL (``run`` needs a refill) or
    VIOLATION (``run``'s head is not above the last key; nothing emitted for it)."""
    n_runs = ts.shape[0]
    heap = np.empty(n_runs, np.int64)
    n = 0
    for r in range(n_runs):  # rebuilt on every entry: refills are rare next to pops
        if pos[r] < length[r]:
            heap[n] = r
            j = n
            n += 1
            while j > 0:
                p = (j - 1) >> 1
                if not _less(ts, ids, pos, heap[j], heap[p]):
                    break
                heap[j], heap[p] = heap[p], heap[j]
                j = p
    limit = out_run.shape[0]
    while n_out < limit and n > 0:
        r = heap[0]
        t, i = ts[r, pos[r]], ids[r, pos[r]]
        if last_id[1] == 1 and not (t > last_ts[0] or (t == last_ts[0] and i > last_id[0])):
            return n_out, VIOLATION, r
        out_run[n_out] = r
        out_row[n_out] = base[r] + pos[r]
        n_out += 1
        last_ts[0], last_id[0], last_id[1] = t, i, 1
        pos[r] += 1
        if pos[r] < length[r]:
            _sift_down(heap, n, ts, ids, pos)
        elif done[r]:
            n -= 1
            heap[0] = heap[n]
            _sift_down(heap, n, ts, ids, pos)
        else:
            return n_out, STALL, r
    return n_out, (LIMIT if n_out == limit else DONE), -1


@dataclass
class Window:
    """One output window: ``run[k], row[k]`` is output row ``first + k``; run r contributes
    rows ``start[r] … start[r] + count[r] − 1``, carried by ``pieces[r]`` =
    ``[(payload, offset, n), …]`` in row order."""

    index: int
    first: int
    run: np.ndarray  # int32
    row: np.ndarray  # int64
    start: np.ndarray  # int64 per run
    count: np.ndarray  # int64 per run
    pieces: list[list[tuple[object, int, int]]]


class KWayMerge:
    """Windows of the global ``(ts, id)`` order of sorted runs. ``sources[r]`` yields run r's
    key batches ``(ts int64[], ids uint64[], payload)`` in run order (payload: anything the
    caller wants back sliced, e.g. the Arrow batch the keys came from)."""

    def __init__(self, sources: Iterable[Iterator], window: int = WINDOW_ROWS):
        if window < 1:
            raise ValueError("window must be ≥ 1 row")
        self.sources = list(sources)
        self.window = int(window)
        r = len(self.sources)
        self.width = 1
        self.ts = np.zeros((r, 1), np.int64)
        self.ids = np.zeros((r, 1), np.uint64)
        self.pos = np.zeros(r, np.int64)
        self.length = np.zeros(r, np.int64)
        self.done = np.zeros(r, np.bool_)
        self.base = np.zeros(r, np.int64)  # run row of key-buffer column 0
        self.emitted = np.zeros(r, np.int64)  # run rows emitted in earlier windows
        self.last_ts = np.zeros(1, np.int64)
        self.last_id = np.zeros(2, np.uint64)
        # payloads not yet fully emitted: (payload, first run row, n rows)
        self.held: list[deque] = [deque() for _ in range(r)]
        for k in range(r):
            self._refill(k)

    def _refill(self, r: int) -> None:
        """Load run r's next non-empty key batch (or mark it spent)."""
        self.base[r] += self.length[r]
        self.pos[r] = self.length[r] = 0
        for item in self.sources[r]:
            ts, ids, payload = item
            n = len(ts)
            if n == 0:
                continue
            if n > self.width:  # widen the buffers (only while batches grow)
                w = max(n, 2 * self.width)
                for name, dt in (("ts", np.int64), ("ids", np.uint64)):
                    grown = np.zeros((self.ts.shape[0], w), dt)
                    grown[:, : self.width] = getattr(self, name)[:, : self.width]
                    setattr(self, name, grown)
                self.width = w
            self.ts[r, :n] = ts
            self.ids[r, :n] = ids
            self.length[r] = n
            self.held[r].append((payload, int(self.base[r]), n))
            return
        self.done[r] = True

    def windows(self) -> Iterator[Window]:
        first, index, n_runs = 0, 0, len(self.sources)
        while True:
            out_run = np.empty(self.window, np.int64)
            out_row = np.empty(self.window, np.int64)
            n_out = 0
            while True:
                n_out, status, r = merge_block(
                    self.ts, self.ids, self.pos, self.length, self.done, self.base,
                    self.last_ts, self.last_id, out_run, out_row, n_out,
                )  # fmt: skip
                if status == STALL:
                    self._refill(r)
                    continue
                if status == VIOLATION:
                    raise MergeOrderError(first + n_out, int(r), int(self.base[r] + self.pos[r]))
                break
            if n_out == 0:
                return
            run = out_run[:n_out].astype(np.int32)
            count = np.bincount(run, minlength=n_runs).astype(np.int64)
            start = self.emitted.copy()
            pieces = [self._take(r, int(start[r]), int(count[r])) for r in range(n_runs)]
            self.emitted += count
            yield Window(index, first, run, out_row[:n_out], start, count, pieces)
            first += n_out
            index += 1
            if status == DONE:
                return

    def _take(self, r: int, start: int, n: int) -> list[tuple[object, int, int]]:
        """Run r's payload slices for rows ``start … start + n − 1``; drops spent payloads."""
        out, held, end = [], self.held[r], start + n
        while n and held:
            payload, p0, pn = held[0]
            lo, hi = max(start, p0), min(end, p0 + pn)
            if hi > lo:
                out.append((payload, lo - p0, hi - lo))
            if p0 + pn <= end:
                held.popleft()
            else:
                break
        return out


def merge_order(ts_runs, id_runs, window: int = WINDOW_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The whole global order ``(run, row)`` of in-memory runs (tests, small inputs)."""

    def source(ts, ids):
        yield np.asarray(ts, np.int64), np.asarray(ids, np.uint64), None

    m = KWayMerge([source(t, i) for t, i in zip(ts_runs, id_runs, strict=True)], window)
    runs, rows = [], []
    for w in m.windows():
        runs.append(w.run)
        rows.append(w.row)
    if not runs:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(runs), np.concatenate(rows)


__all__ = ["WINDOW_ROWS", "KWayMerge", "MergeOrderError", "Window", "merge_block", "merge_order"]
