"""3B check thresholds — code constants pinned by layer1 §6 / REALISM, never policy fields."""

VIRTUAL_ONLY_SHARE = (0.10, 0.25)
HYBRID_SHARE = (0.02, 0.08)
VIRTUAL_ONLY_MIN = 1
FLOOR_PROMOTIONS_MAX = 0.25
EDGE_COUNTRIES_MIN = {"reference": 2.0, "large": 2.0}  # not evaluated in tiny/small
FOREIGN_EDGE_WEIGHT = (0.25, 0.55)
TOP10_EDGE_TZ_MAX = 0.70
SUM_TOL = 1e-12
