"""3A check thresholds — code constants pinned by layer1 §5 / REALISM, never policy fields."""

SUM_TOL = 1e-12
PAIR_COUNT = {
    "tiny": (30, 100),
    "small": (1800, 3300),
    "reference": (14000, 19500),
    "large": (140000, 195000),
}
MULTI_ZONE_SHARE = (0.04, 0.18)
PRIOR_TV_MIN_SITES = 500
PRIOR_TV_MAX = 0.10
