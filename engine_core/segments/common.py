"""Mechanics every segment shares: locating and reading published datasets (guarded by the
running state's declaration, every file verified against its publish record), the sealed
set, the validation-bundle state, RNG ledger publication and small vectorised helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.checks import Check
from engine_core.context import RunContext, StateResult, guard
from engine_core.errors import EngineError
from engine_core.gates import (
    METADATA_ONLY,
    ROW_LEVEL,
    SealedInputs,
    build_bundle,
    verify_bundle,
)
from engine_core.io.datasets import (
    PartitionKeys,
    partition_keys_of,
    resolve,
    write_parquet_dataset,
)
from engine_core.io.publish import partition_files
from engine_core.io.verify import published_files, verify_published
from engine_core.rng.ledger import RngLedger


def keys_for(ctx: RunContext, dataset_id: str) -> PartitionKeys:
    """Partition keys of ``dataset_id`` in this run (SF datasets drop the seed)."""
    return partition_keys_of(
        ctx.dictionary.dataset(dataset_id),
        mf=ctx.mf,
        ph=ctx.ph,
        seed=ctx.seed,
        scenario_id=ctx.scenario_id,
    )


def locate(ctx: RunContext, dataset_id: str) -> Path:
    """The partition path of ``dataset_id`` in this run, for sealing and listing (no read)."""
    return resolve(ctx.dictionary, dataset_id, ctx.data_root, keys_for(ctx, dataset_id))


def dataset_path(ctx: RunContext, dataset_id: str) -> Path:
    """Where ``dataset_id``'s partition of this run lives (locating an input is a metadata
    read: the running state must declare it)."""
    guard(ctx, dataset_id, METADATA_ONLY)
    return resolve(ctx.dictionary, dataset_id, ctx.data_root, keys_for(ctx, dataset_id))


def _verified(ctx: RunContext, dataset_id: str, path: Path, state: str, only=None) -> None:
    """Every file opened is checked against the digest recorded when it was published (a
    validation bundle: its HashGate)."""
    if dataset_id.startswith("validation_bundle_"):
        verify_bundle(path, ctx.data_root, state=state, code="SEALED_DIGEST_MISMATCH")
    else:
        verify_published(ctx.data_root, path, dataset_id=dataset_id, state=state, only=only)


def input_path(
    ctx: RunContext, dataset_id: str, *, state: str | None = None, scope: str = ROW_LEVEL
) -> Path:
    """A published input's path (file, or partition directory), verified against its
    published digests before the caller opens it. ``scope=METADATA_ONLY`` when the caller
    only digests it or reads its metadata (footer, flag), never its content."""
    state = state or _state_id(ctx)
    guard(ctx, dataset_id, scope)
    path = dataset_path(ctx, dataset_id)
    if not path.exists():
        raise EngineError("SEALED_INPUT_MISSING", state, f"{dataset_id}: expected {path}")
    _verified(ctx, dataset_id, path, state)
    return path


def input_parts(ctx: RunContext, dataset_id: str, *, state: str | None = None) -> list[Path]:
    """The verified ``part-*.parquet`` files of a published partition, in part order (a row
    read: the running state must declare it ROW_LEVEL)."""
    state = state or _state_id(ctx)
    guard(ctx, dataset_id, ROW_LEVEL)
    path = dataset_path(ctx, dataset_id)
    if path.is_dir():
        _verified(ctx, dataset_id, path, state)  # a part removed or added is named here
    parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
    if not parts:
        raise EngineError(
            "SEALED_INPUT_MISSING", state, f"{dataset_id}: nothing published at {path}"
        )
    return parts


def _state_id(ctx: RunContext) -> str:
    return ctx.state.state_id if ctx.state is not None else "ENGINE"


def read_table(ctx: RunContext, dataset_id: str, columns=None, *, state: str) -> pa.Table:
    """All parts of a published parquet partition, in part order, with the contract schema."""
    parts = input_parts(ctx, dataset_id, state=state)
    schema = ctx.dictionary.arrow_schema_of(dataset_id)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    tables = [pq.read_table(p, columns=columns, schema=schema) for p in parts]
    return pa.concat_tables(tables).replace_schema_metadata(None)


def read_json(
    ctx: RunContext, dataset_id: str, *, state: str | None = None, scope: str = ROW_LEVEL
):
    """A published JSON document (``scope=METADATA_ONLY``: a digest/receipt compared, not
    content the state computes with)."""
    path = input_path(ctx, dataset_id, state=state, scope=scope)
    if not path.is_file():
        raise EngineError(
            "CONTRACT_INVALID", state or _state_id(ctx), f"{dataset_id}: {path} is not a document"
        )
    return json.loads(path.read_bytes())


def load_sealed(ctx: RunContext, segment: str, *, state: str) -> SealedInputs:
    """Re-verify the segment's sealed set against its receipt before any read."""
    doc = read_json(ctx, f"sealed_inputs_{segment}", state=state)
    receipt = read_json(ctx, f"s0_gate_receipt_{segment}", state=state)
    sealed = SealedInputs.from_document(doc, state=state)
    if receipt["sealed_inputs_digest"] != sealed.digest:
        raise EngineError(
            "SEALED_DIGEST_MISMATCH",
            state,
            f"s0_gate_receipt_{segment} does not match sealed_inputs_{segment}",
        )
    if doc["manifest_fingerprint"] != ctx.mf:
        raise EngineError(
            "SEALED_DIGEST_MISMATCH", state, f"sealed_inputs_{segment} belongs to another manifest"
        )
    return sealed


# --- validation ----------------------------------------------------------------------------
def segment_files(ctx: RunContext, segment: str, exclude=()) -> list[tuple[str, str]]:
    """Every published file of the segment's datasets for this partition (SF ones included)."""
    files = []
    for spec in ctx.dictionary.datasets.values():
        if spec.segment != segment or spec.id == f"validation_bundle_{segment}":
            continue
        if spec.id in exclude:
            continue
        path = dataset_path(ctx, spec.id)
        if not path.exists():
            raise EngineError(
                "SEALED_INPUT_MISSING", f"{segment}.VAL", f"{spec.id}: expected {path}"
            )
        # the bundle indexes exactly what was published: each file is verified against its
        # publish record first (a file changed since then fails here, not downstream)
        _verified(ctx, spec.id, path, f"{segment}.VAL")
        files += published_files(ctx.data_root, path)
    return sorted(files)


def run_validation(
    ctx: RunContext,
    segment: str,
    state: str,
    checks: list[Check],
    *,
    evidence=None,
    exclude=(),
) -> StateResult:
    """Evaluate ``checks`` and publish the bundle. ``evidence(rows)`` may return extra bundle
    files ``{name: bytes}`` built from the report rows (layer2 §5.1)."""
    state_id = f"{segment}.{state}"
    rows = [c.evaluate(ctx) for c in checks]
    extra = evidence(rows) if evidence else None
    bundle = dataset_path(ctx, f"validation_bundle_{segment}")
    try:
        status, digest, published = build_bundle(
            ctx.dictionary,
            segment=segment,
            bundle_dir=bundle,
            data_root=ctx.data_root,
            files=segment_files(ctx, segment, exclude),
            checks=rows,
            mf=ctx.mf,
            seed=ctx.seed,
            state=state_id,
            evidence=extra,
        )
    except EngineError as e:
        e.check_rows = rows  # the Dagster asset checks report them even on FAIL
        raise
    from engine_core.io.datasets import PublishResult

    res = PublishResult(
        f"validation_bundle_{segment}",
        bundle,
        published,
        len(rows),
        partition_files(ctx.data_root, bundle),
    )
    return StateResult(
        state_id,
        [res],
        rows=len(rows),
        metadata={"bundle_digest": digest, "checks": len(rows), "check_rows": rows},
    )


def metrics_parquet(rows, name: str) -> dict[str, bytes]:
    """A bundle's metrics file (the 6A schema, layer3 §3.6/§4.6): one row per (check, numeric
    measured value, flattened ``a.b`` keys) with ``lo``/``hi`` when the threshold gives that
    key a two-sided band, and the check's status."""
    import io

    cid, strat, val, lo, hi, st = [], [], [], [], [], []
    for r in rows:
        m = r["measured"] if isinstance(r["measured"], dict) else {"value": r["measured"]}
        thr = r["threshold"] if isinstance(r["threshold"], dict) else {}
        for k, v in sorted(_flatten(m).items()):
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            band = thr.get(k)
            two = isinstance(band, list) and len(band) == 2
            cid.append(r["check_id"])
            strat.append(k)
            val.append(float(v))
            lo.append(float(band[0]) if two else None)
            hi.append(float(band[1]) if two else None)
            st.append(r["status"])
    t = pa.table(
        {
            "check_id": pa.array(cid, pa.string()).dictionary_encode(),
            "stratum": pa.array(strat, pa.string()).dictionary_encode(),
            "value": pa.array(val, pa.float64()),
            "lo": pa.array(lo, pa.float64()),
            "hi": pa.array(hi, pa.float64()),
            "status": pa.array(st, pa.string()).dictionary_encode(),
        }
    )
    buf = io.BytesIO()
    pq.write_table(t, buf, compression="zstd")
    return {name: buf.getvalue()}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def lookup(values, mapping: dict, dtype=np.float64) -> np.ndarray:
    """Vectorised ``mapping[v]`` for an array of category labels (one dict access per
    distinct label, not per row)."""
    labels, inverse = np.unique(np.asarray(values, dtype=object), return_inverse=True)
    table = np.array([mapping[lab] for lab in labels], dtype=dtype)
    return table[inverse.reshape(-1)]


# --- generic per-dataset checks (REALISM layer-wide rows) -----------------------------------
def _pk_strictly_sorted(table: pa.Table, pk: tuple[str, ...]) -> bool:
    """Rows strictly increasing in the primary key (lexicographic; strings by UTF-8 bytes)."""
    if table.num_rows < 2 or not pk:
        return True
    cols = []
    for c in pk:
        col = table.column(c)
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            _, codes = np.unique(np.asarray(col.to_pylist(), dtype=object), return_inverse=True)
            cols.append(codes.reshape(-1))
        else:
            cols.append(col.to_numpy())
    greater = np.zeros(table.num_rows - 1, dtype=bool)
    equal = np.ones(table.num_rows - 1, dtype=bool)
    for c in cols:
        greater |= equal & (c[1:] > c[:-1])
        equal &= c[1:] == c[:-1]
    return bool(greater.all())


def dataset_checks(segment: str, datasets: dict[str, str]) -> list[Check]:
    """``<SEG>.<STATE>.schema`` and ``<SEG>.<STATE>.finite_floats`` for each primary dataset."""
    from engine_core.checks import INTEGRITY, Outcome

    out = []
    for ds, st in datasets.items():

        def schema(ctx, ds=ds):
            path = dataset_path(ctx, ds)
            want = ctx.dictionary.arrow_schema_of(ds)
            parts = sorted(path.glob("part-*.parquet"))
            bad = [
                p.name
                for p in parts
                if not pq.read_schema(p).remove_metadata().equals(want.remove_metadata())
            ]
            spec = ctx.dictionary.dataset(ds)
            order = spec.sort_order or spec.primary_key
            ordered = _pk_strictly_sorted(
                read_table(ctx, ds, list(order) or None, state=f"{segment}.VAL"), order
            )
            return Outcome(
                bool(parts) and not bad and ordered,
                {"parts": len(parts), "schema_mismatch": bad, "pk_sorted": ordered},
                "contract schema; rows strictly in writer sort order",
            )

        def finite(ctx, ds=ds):
            t = read_table(ctx, ds, state=f"{segment}.VAL")
            bad = {}
            for name, col in zip(t.column_names, t.columns, strict=True):
                if pa.types.is_floating(col.type):
                    arr = col.to_numpy()
                    n = int((~np.isfinite(arr)).sum())
                    if n:
                        bad[name] = n
            return Outcome(not bad, bad, {})

        out.append(Check(f"{segment}.{st}.schema", INTEGRITY, ds, schema))
        out.append(Check(f"{segment}.{st}.finite_floats", INTEGRITY, ds, finite))
    return out


def zone_of_country(countries: pa.Table, country, tzid) -> np.ndarray:
    """Per row: is ``tzid`` one of the country's ``zone.tab`` zones (``s1_country_reference``
    columns ``country_iso``, ``tzids``)? tzid → country is a function (layer1 §0.3)."""
    allowed = pa.array(
        sorted(
            f"{c}|{z}"
            for c, zs in zip(
                countries.column("country_iso").to_pylist(),
                countries.column("tzids").to_pylist(),
                strict=True,
            )
            for z in zs
        ),
        pa.string(),
    )  # ≈ 355 pairs of the reference universe

    def arr(x):
        return x if isinstance(x, pa.Array | pa.ChunkedArray) else pa.array(list(x), pa.string())

    pairs = pc.binary_join_element_wise(arr(country), arr(tzid), "|")
    return pc.is_in(pairs, allowed).to_numpy(zero_copy_only=False)


# --- RNG ledger publication (ARCHITECTURE §4) ----------------------------------------------
def publish_ledger(
    ctx: RunContext, ledger: RngLedger, *, trace_dataset: str, audit_dataset: str
) -> list:
    """Publish the state's trace and audit tables (called with the state's data outputs),
    each built with its dataset's contract schema."""
    d = ctx.dictionary
    keys = ctx.keys()
    return [
        write_parquet_dataset(
            d,
            trace_dataset,
            ctx.data_root,
            keys,
            [ledger.trace_table(d.arrow_schema_of(trace_dataset))],
            state=ledger.state,
        ),
        write_parquet_dataset(
            d,
            audit_dataset,
            ctx.data_root,
            keys,
            [ledger.audit_table(d.spec_version, d.arrow_schema_of(audit_dataset))],
            state=ledger.state,
        ),
    ]
