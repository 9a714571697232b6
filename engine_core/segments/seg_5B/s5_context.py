"""5B.S5 measurement inputs: everything the dense pass, the arrival pass and the evidence
builders read besides the parts themselves — the production router (for R2 and the T5
tables), the S2/S3 inputs (for replay), the tz cache, the (tz, local hour) layout and the
T5 site/edge lookup tables. Loaded once per partition and shared read-only by the worker
threads; it lives apart from ``s5_measure`` so the pass modules can import it without a
cycle."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.context import RunContext
from engine_core.segments.common import read_table
from engine_core.segments.parts import codes
from engine_core.segments.seg_5B import s2_latent, s3_counts
from engine_core.segments.seg_5B.s4_arrivals import Router
from engine_core.segments.tz import load_cache

STATE = "5B.S5"
HOURS_PAD = 14  # local hours before S (UTC−12 and a margin) in the (tz, local hour) layout
DENSE = ("s2_realised_intensity_5B", "s3_bucket_counts_5B")


class Context5:
    """Inputs of the measurement passes, loaded once."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.router = Router(ctx, STATE)  # production kernel for R2, decoded tables for T5
        self.s2 = s2_latent.Inputs(ctx, STATE)
        self.s3 = s3_counts.Inputs(ctx, STATE)
        r = self.router
        self.hz, self.dom = r.hz, r.dom
        self.cache = load_cache(ctx)
        self.z = len(r.tz_vocab)
        self.L = self.hz.h + 2 * HOURS_PAD + 2
        self.hour_base = self.hz.start // 3600 - HOURS_PAD
        p_v = r.m_p_virtual[r.row_merchant]
        mode = r.m_mode[r.row_merchant]
        self.phys_share = np.where(mode == 0, 1.0, np.where(mode == 2, 0.0, 1.0 - p_v))
        self.row_tz = r.keys.tz.astype(np.int64)
        # T5 lookup tables keyed by (merchant, entity)
        st = pl.from_arrow(
            read_table(ctx, "site_timezones", ["merchant_id", "site_id", "tzid"], state=STATE)
        )
        sw = pl.from_arrow(
            read_table(
                ctx,
                "s1_site_weights",
                ["merchant_id", "tzid", "site_id", "p_weight_in_tz"],
                state=STATE,
            )
        )
        # every (merchant, site) of either table: a site missing from one fails T5 on lookup
        self.sites = (
            sw.join(
                st.rename({"tzid": "site_tz"}),
                on=["merchant_id", "site_id"],
                how="full",
                coalesce=True,
            ).with_row_index("cell")
        ).with_columns(
            pl.col("tzid").fill_null("").alias("tzid"),
            pl.col("site_tz").fill_null("").alias("site_tz"),
        )
        self.site_weight = self.sites["p_weight_in_tz"].fill_null(0.0).to_numpy()
        self.site_tz_w = self._codes_or_minus(self.sites["tzid"])
        self.site_tz_s = self._codes_or_minus(self.sites["site_tz"])
        cat = pl.from_arrow(
            read_table(
                ctx,
                "edge_catalogue_3B",
                ["merchant_id", "edge_id", "tzid_operational", "edge_weight"],
                state=STATE,
            )
        )
        self.edges = cat.with_row_index("cell")
        self.edge_tz = self._codes_or_minus(self.edges["tzid_operational"])

    def _codes_or_minus(self, s: pl.Series) -> np.ndarray:
        vals = s.to_numpy()
        ok = vals != ""
        out = np.full(vals.shape[0], -1, dtype=np.int64)
        out[ok] = codes(vals[ok], self.router.tz_vocab, state=STATE, what="tzid")
        return out
