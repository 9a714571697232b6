"""RNG ledger (ARCHITECTURE §4): ``rng_trace_log`` rows (one per part × family) and one
``rng_audit_log`` row per RNG-bearing state, published with the state's data
(``engine_core.segments.common.publish_ledger``). The tables take their contract schemas as
arguments: rng depends on neither the contracts nor io."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pyarrow as pa

from engine_core.identity import canonical_json, engine_version
from engine_core.rng.samplers import LAWS
from engine_core.rng.streams import ctr_add

GENERATOR = "philox2x64-10"
_LIBS = ("numpy", "numba", "pyarrow", "polars")


@dataclass
class TraceRow:
    family_id: str
    part_index: int
    events: int = 0
    draws: int = 0
    blocks: int = 0
    first: tuple[int, int, int] | None = None  # (key, ctr_hi, ctr_lo) of the first block
    last: tuple[int, int, int] | None = None  # … of the last block
    streams: int = 0


@dataclass
class RngLedger:
    """Accumulates trace rows in canonical (part, family) order for one state."""

    state: str
    domain_sep: str
    families: tuple[str, ...]
    rows: dict[tuple[int, str], TraceRow] = field(default_factory=dict)
    # layer-2 traces add ``streams`` and ``law_version`` per family (layer2 §3.0)
    law_versions: dict[str, str] | None = None

    def record(
        self,
        family_id: str,
        part_index: int,
        *,
        events: int,
        draws: int,
        blocks: int,
        first: tuple[int, int, int] | None,
        last: tuple[int, int, int] | None,
        streams: int = 0,
    ) -> None:
        """Add events of one family in one part; events must arrive in canonical order."""
        if family_id not in self.families:
            raise ValueError(f"{self.state}: family {family_id} is not declared")
        row = self.rows.setdefault((part_index, family_id), TraceRow(family_id, part_index))
        row.streams += int(streams)
        row.events += int(events)
        row.draws += int(draws)
        row.blocks += int(blocks)
        if events:
            row.first = row.first or first
            row.last = last

    def record_rows(
        self, family_id: str, part_index: int, key, hi, lo, *, draws, blocks, events=None
    ) -> None:
        """Trace one stream per row (rows in canonical order); ``draws``/``blocks`` per row
        (array or scalar). The last counter is the last row's final block."""
        n = len(key)
        if n == 0:
            return
        d = np.broadcast_to(np.asarray(draws, dtype=np.int64), (n,))
        b = np.broadcast_to(np.asarray(blocks, dtype=np.int64), (n,))
        hi_last, lo_last = ctr_add(int(hi[-1]), int(lo[-1]), max(int(b[-1]) - 1, 0), self.state)
        self.record(
            family_id,
            part_index,
            events=n if events is None else int(events),
            draws=int(d.sum()),
            blocks=int(b.sum()),
            first=(int(key[0]), int(hi[0]), int(lo[0])),
            last=(int(key[-1]), hi_last, lo_last),
        )

    def record_stream(self, family_id: str, part_index: int, stream) -> None:
        """Add everything a :class:`~engine_core.rng.streams.Stream` consumed."""
        if stream.events == 0:
            return
        fh, fl = stream.first_counter
        lh, ll = stream.last_counter
        self.record(
            family_id,
            part_index,
            events=stream.events,
            draws=stream.draws_used,
            blocks=stream.blocks_used,
            first=(stream.key, fh, fl),
            last=(stream.key, lh, ll),
        )

    def trace_table(self, schema: pa.Schema) -> pa.Table:
        """The trace rows as a table of ``schema`` (the contract's ``rng_trace_log``, or
        ``rng_trace_log_l2`` for a layer-2 ledger)."""
        if self.law_versions is not None:
            return self._trace_table_l2(schema)
        cols: dict[str, list] = {
            k: []
            for k in (
                "state",
                "family_id",
                "part_index",
                "events",
                "draws",
                "blocks",
                "first_key",
                "first_ctr_hi",
                "first_ctr_lo",
                "last_key",
                "last_ctr_hi",
                "last_ctr_lo",
            )
        }
        for (part, fam), r in sorted(self.rows.items()):
            first = r.first or (0, 0, 0)
            last = r.last or (0, 0, 0)
            values = (self.state, fam, part, r.events, r.draws, r.blocks, *first, *last)
            for k, v in zip(cols, values, strict=True):
                cols[k].append(v)
        return pa.table(cols, schema=schema)

    def _trace_table_l2(self, schema: pa.Schema) -> pa.Table:
        cols: dict[str, list] = {f.name: [] for f in schema}
        for (part, fam), r in sorted(self.rows.items()):
            first = r.first or (0, 0, 0)
            last = r.last or (0, 0, 0)
            values = (
                self.state,
                fam,
                self.law_versions[fam],
                part,
                r.streams,
                r.events,
                r.draws,
                r.blocks,
                *first,
                *last,
            )
            for k, v in zip(cols, values, strict=True):
                cols[k].append(v)
        return pa.table(cols, schema=schema)

    def audit_table(self, spec_version: str, schema: pa.Schema) -> pa.Table:
        """The state's one audit row as a table of ``schema`` (the contract's
        ``rng_audit_log``)."""
        libs = {}
        for lib in _LIBS:
            try:
                libs[lib] = metadata.version(lib)
            except metadata.PackageNotFoundError:  # pragma: no cover
                libs[lib] = "absent"
        return pa.table(
            schema=schema,
            data={
                "state": [self.state],
                "generator": [GENERATOR],
                "domain_sep": [self.domain_sep],
                "families": [",".join(sorted(self.families))],
                "laws": [canonical_json(LAWS).decode()],
                "library_versions": [canonical_json(libs).decode()],
                "engine_version": [engine_version()],
                "spec_version": [spec_version],
            },
        )

    def totals(self) -> dict[str, dict[str, int]]:
        """Per family: events, draws, blocks (what accounting checks compare)."""
        out: dict[str, dict[str, int]] = {}
        for (_, fam), r in sorted(self.rows.items()):
            t = out.setdefault(fam, {"events": 0, "draws": 0, "blocks": 0})
            if self.law_versions is not None:  # layer-2 traces count streams too
                t["streams"] = t.get("streams", 0) + r.streams
            t["events"] += r.events
            t["draws"] += r.draws
            t["blocks"] += r.blocks
        return json.loads(json.dumps(out))
