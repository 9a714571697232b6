"""Thin Dagster orchestration over engine_core (no business logic here)."""

import warnings

import dagster as dg

# partitioned asset checks and observable sources are Dagster beta/preview APIs we rely on
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
