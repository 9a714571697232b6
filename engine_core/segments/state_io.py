"""A state's I/O, derived from its declaration: ``io = open_state(ctx, STATE)``.

``open_state`` re-verifies the segment's sealed set against its receipt and requires every
declared input that S0 sealed, in its declared scope, before anything is read. The returned
``StateIO`` reads only declared inputs (each file verified against the digest recorded when
it was published), writes only the state's own outputs with their partition keys, publishes
the RNG trace/audit pair under the naming convention ``rng_{trace,audit}_log_<SEG>_<STATE>``
and assembles the ``StateResult``. A state module holds its algorithm and little else."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.gates import METADATA_ONLY, ROW_LEVEL, SealedInputs
from engine_core.io.datasets import (
    PublishResult,
    StagedDataset,
    publish_blob,
    publish_staged_dir,
    write_json_dataset,
    write_parquet_dataset,
)
from engine_core.rng.ledger import RngLedger
from engine_core.segments import common
from engine_core.segments.sealing import sealed_names
from engine_core.statespec import Read


class StateIO:
    def __init__(self, ctx: RunContext, sealed: SealedInputs | None) -> None:
        self.ctx = ctx
        self.spec = ctx.state
        self.state = self.spec.state_id
        self.sealed = sealed
        self.outputs: list[PublishResult] = []

    # --- reads (declared inputs only; every file verified) ----------------------------------
    def read_table(self, dataset_id: str, columns=None) -> pa.Table:
        return common.read_table(self.ctx, dataset_id, columns, state=self.state)

    def read_json(self, dataset_id: str):
        return common.read_json(self.ctx, dataset_id, state=self.state)

    def path(self, dataset_id: str, *, meta: bool = False) -> Path:
        """The verified path of an input (file or partition directory); ``meta=True`` when
        only its digest or metadata is read (allowed for METADATA_ONLY inputs)."""
        scope = METADATA_ONLY if meta else ROW_LEVEL
        return common.input_path(self.ctx, dataset_id, state=self.state, scope=scope)

    def parts(self, dataset_id: str) -> list[Path]:
        """The verified part files of a parquet input, in part order."""
        return common.input_parts(self.ctx, dataset_id, state=self.state)

    def policy(self, name: str) -> dict:
        return self.ctx.manifest.policies[name]

    # --- writes (own outputs only) --------------------------------------------------------
    def _own(self, dataset_id: str) -> None:
        if dataset_id not in self.spec.outputs:
            raise EngineError(
                "USAGE",
                self.state,
                f"{dataset_id} is not an output of {self.state} (dictionary owner)",
            )

    def write(self, dataset_id: str, parts: Iterable[pa.Table], **kw) -> PublishResult:
        """Write ``parts`` (in writer order) and publish the partition."""
        return self._keyed(write_parquet_dataset, dataset_id, parts, **kw)

    def write_json(self, dataset_id: str, doc) -> PublishResult:
        """Validate ``doc`` against its contract and publish it as one file."""
        return self._keyed(write_json_dataset, dataset_id, doc)

    def write_blob(self, dataset_id: str, data: bytes, *, rows: int) -> PublishResult:
        """A single-file dataset of raw bytes (alias blobs, canonical JSON contracts)."""
        return self._located(publish_blob, dataset_id, data, rows)

    def publish_dir(self, dataset_id: str, staged: Path, *, rows: int) -> PublishResult:
        """Publish a partition the state staged in its own layout (e.g. the tz cache)."""
        return self._located(publish_staged_dir, dataset_id, staged, rows)

    def staged(self, dataset_id: str, **kw) -> StagedDataset:
        """A partition written part by part (publish it with ``io.add(staged.publish(n))``)."""
        self._own(dataset_id)
        keys = common.keys_for(self.ctx, dataset_id)
        return StagedDataset(self.ctx, dataset_id, state=self.state, keys=keys, **kw)

    def _keyed(self, writer, dataset_id: str, payload, **kw) -> PublishResult:
        self._own(dataset_id)
        c = self.ctx
        keys = common.keys_for(c, dataset_id)
        res = writer(c.dictionary, dataset_id, c.data_root, keys, payload, state=self.state, **kw)
        return self.add(res)

    def _located(self, publisher, dataset_id: str, payload, rows: int) -> PublishResult:
        self._own(dataset_id)
        c = self.ctx
        final = common.locate(c, dataset_id)
        res = publisher(
            c.dictionary, dataset_id, payload, final, c.data_root, state=self.state, rows=rows
        )
        return self.add(res)

    def publish_ledger(self, ledger: RngLedger) -> list[PublishResult]:
        """The state's RNG trace and audit datasets (published after its data: the trace is
        the data's commit marker)."""
        seg, st = self.spec.segment, self.spec.state
        outs = common.publish_ledger(
            self.ctx,
            ledger,
            trace_dataset=f"rng_trace_log_{seg}_{st}",
            audit_dataset=f"rng_audit_log_{seg}_{st}",
        )
        for o in outs:
            self.add(o)
        return outs

    def add(self, res: PublishResult) -> PublishResult:
        self._own(res.dataset_id)
        self.outputs.append(res)
        return res

    def result(self, rows: int = 0, metadata: dict | None = None) -> StateResult:
        """The state's result; every declared output must have been published."""
        done = {o.dataset_id for o in self.outputs}
        missing = [d for d in self.spec.outputs if d not in done]
        if missing:
            raise EngineError(
                "USAGE", self.state, f"declared outputs not published: {', '.join(missing)}"
            )
        return StateResult(self.state, list(self.outputs), rows=rows, metadata=metadata or {})


def open_state(ctx: RunContext, state_id: str) -> StateIO:
    """Open ``state_id`` for running in ``ctx`` (bound by the runner to its declaration)."""
    spec = ctx.state
    if spec is None or spec.state_id != state_id:
        raise EngineError(
            "USAGE",
            state_id,
            "states run through the registry (engine_core.runner.run_state), which binds "
            "their declaration",
        )
    if spec.state == "S0":
        return StateIO(ctx, None)  # S0 creates the sealed set
    sealed = common.load_sealed(ctx, spec.segment, state=state_id)
    own = {d.id for d in ctx.dictionary.datasets.values() if d.segment == spec.segment}
    for r in spec.inputs:
        if r.name in own:
            continue
        if isinstance(r, Read):
            sealed.require(r.name, state=state_id, scope=r.scope)
        else:
            for name in sealed_names(r, ctx):
                sealed.require(name, state=state_id)
    return StateIO(ctx, sealed)
