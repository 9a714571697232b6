"""2A check thresholds — code constants pinned by layer1 §3 / REALISM, never policy fields."""

CITY_TIEBREAK_SHARE_MAX = 0.02
TOP10_TZID_SHARE_MAX = 0.60
DST_SITE_SHARE = {"small": (0.25, 0.65), "reference": (0.25, 0.65), "large": (0.25, 0.65)}
DST_SITES_MIN_TINY = 1
DISTINCT_TZIDS_MIN = {"small": 120, "reference": 200, "large": 250}  # not evaluated in tiny
