"""Layer-3 column helpers shared by 6A and 6B: string columns as sorted vocabularies and
int codes (no Python object per row), and Arrow columns built back from codes, day numbers
and nullable ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.errors import EngineError


def coded(codes: np.ndarray, vocab: list[str], *, dictionary: bool = True) -> pa.Array:
    """A string column from int codes into ``vocab`` (no Python object per row)."""
    d = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, np.int32)), pa.array(vocab))
    return d if dictionary else d.cast(pa.string())


def dates(days_since_epoch: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days_since_epoch, np.int32), pa.date32())


def nullable_u64(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.uint64), pa.uint64(), mask=~np.asarray(valid, bool))


def codes_of(col, vocab: list[str], *, missing: int | None = None) -> np.ndarray:
    """Int codes of a string column in ``vocab``; a value outside it is ``missing`` (or an
    error when ``missing`` is None)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    idx = pc.fill_null(pc.index_in(col, value_set=pa.array(vocab, pa.string())), -1)
    out = idx.to_numpy(zero_copy_only=False).astype(np.int64)
    if missing is None and (out < 0).any():
        raise EngineError(
            "SCHEMA_VIOLATION", detail=f"value {col[int(np.argmin(out))]} not in {vocab[:5]}…"
        )
    return out


def sorted_codes(values) -> tuple[list[str], np.ndarray]:
    """``np.unique(values.astype(str), return_inverse=True)`` by a hash dictionary (O(n);
    sorting millions of strings is not): the sorted distinct labels and each row's code."""
    x = values if isinstance(values, pa.Array | pa.ChunkedArray) else np.asarray(values)
    if isinstance(x, np.ndarray) and x.dtype.kind == "U" and x.size and x.dtype.itemsize:
        # fixed-width UTF-32 rows hashed in place as binary (no per-row conversion)
        w = x.dtype.itemsize
        buf = pa.py_buffer(np.ascontiguousarray(x))
        enc = pc.dictionary_encode(
            pa.FixedSizeBinaryArray.from_buffers(pa.binary(w), x.size, [None, buf])
        )
        vocab = [v.decode("utf-32-le").rstrip("\x00") for v in enc.dictionary.to_pylist()]
    else:
        arr = x if not isinstance(x, np.ndarray) else pa.array(x, pa.string())
        if isinstance(arr, pa.ChunkedArray):  # large inputs arrive in chunks
            arr = arr.combine_chunks()
        enc = pc.dictionary_encode(arr)
        vocab = enc.dictionary.to_pylist()
    order = sorted(range(len(vocab)), key=vocab.__getitem__)
    rank = np.empty(len(vocab), np.int64)
    rank[order] = np.arange(len(vocab))
    return [vocab[i] for i in order], rank[enc.indices.to_numpy(zero_copy_only=False)]


class Coded:
    """A string column as its sorted distinct values and an int code per row: rows are
    gathered and grouped as integers, strings exist once per distinct value."""

    __slots__ = ("vocab", "codes")

    def __init__(self, vocab: list[str], codes: np.ndarray):
        self.vocab, self.codes = vocab, codes

    @classmethod
    def of(cls, col) -> Coded:  # a non-null Arrow string or dictionary column
        return cls(*sorted_codes(col.cast(pa.string())))

    def __getitem__(self, idx) -> Coded:
        return Coded(self.vocab, self.codes[idx])

    @property
    def size(self) -> int:
        return int(self.codes.size)


def codes_and_vocab(values) -> tuple[list[str], np.ndarray]:
    """(sorted vocabulary, codes) of a ``Coded`` or of any string column."""
    if isinstance(values, Coded):
        return values.vocab, values.codes
    return sorted_codes(values)
