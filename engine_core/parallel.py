"""Ordered parallel map over threads with bounded in-flight work (layer2 §4.5): results come
back in submission order whatever the worker count, so outputs never depend on it. Workers
are threads over nogil numba kernels and pyarrow (nothing is pickled or copied per worker)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor


def ordered_map(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``fn(item)`` for each item, yielded in item order; at most ``workers + 1`` in flight."""
    if workers <= 1:
        for it in items:
            yield fn(it)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for it in items:
            pending.append(pool.submit(fn, it))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
