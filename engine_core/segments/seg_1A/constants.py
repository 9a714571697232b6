"""1A check thresholds — code constants pinned by layer1 §1 / REALISM, never policy fields."""

UNIVERSE_SIZE = (180, 215)
WEIGHT_SUM_TOL = 1e-12
TOP10_COUNTRY_SHARE = (0.45, 0.70)
CNP_SHARE = (0.12, 0.30)
GROUP_SHARE_MIN_TOL = 0.03  # tolerance max(0.03, 4·sqrt(p(1−p)/N))
GROUP_SHARE_SIGMAS = 4.0
HOME_COUNTRIES_MIN = {"small": 80, "reference": 150, "large": 180}  # not evaluated in tiny
SINGLE_SITE_SHARE = (0.68, 0.88)
MEAN_OUTLETS = (2.5, 6.0)
TOP1PCT_OUTLET_SHARE = (0.20, 0.55)
CROSSBORDER_SHARE = (0.02, 0.08)
MAX_OUTLETS_MIN = {"reference": 100, "large": 100}  # not evaluated in tiny/small
ID_RETRIES_MAX = 8
