"""2B check thresholds — code constants pinned by layer1 §4 / REALISM, never policy fields."""

SUM_TOL = 1e-12
GINI_MIN_SITES = 10
MEDIAN_GINI = (0.20, 0.50)
MEDIAN_TOP_SITE_SHARE_MAX = 0.35
GAMMA_MEAN = {
    "tiny": (0.95, 1.05),
    "small": (0.99, 1.01),
    "reference": (0.99, 1.01),
    "large": (0.99, 1.01),
}
GAMMA_CV_MIN_ROWS = 5000
GAMMA_CV_REL_TOL = 0.10
LAG1_AUTOCORR_MAX = 0.03
