"""5A constants — part size and check thresholds, pinned by layer2 §1.3, §2.7 (never policy)."""

PART_ROWS = 2048  # domain rows per part (layer2 §1.3)
SUM_TOL = 1e-12
CONSERVATION_REL = 1e-9
RECOMPUTE_REL = 1e-12
VOLUME_REL = 1e-9
BASELINE_MASS = {
    "tiny": (0.85, 1.20),
    "small": (0.90, 1.15),
    "reference": (0.90, 1.15),
    "large": (0.90, 1.15),
}
HOLIDAY_COVERAGE_MIN = {"tiny": 0.50, "small": 0.95, "reference": 0.95, "large": 0.95}
VOLUME_TAIL_MAX = {"tiny": 0.50, "small": 0.40, "reference": 0.40, "large": 0.40}
WEEKEND_SHARE = {
    "tiny": (0.18, 0.45),
    "small": (0.20, 0.42),
    "reference": (0.20, 0.42),
    "large": (0.20, 0.42),
}
SCENARIO_RESPONSE = {
    "tiny": {"holiday_peak": (1.05, (0.80, 1.20)), "payday_stress": (1.05, (0.80, 1.20))},
    "small": {"holiday_peak": (1.08, (0.95, 1.20)), "payday_stress": (1.08, (0.80, 1.10))},
}
SCENARIO_RESPONSE["reference"] = SCENARIO_RESPONSE["large"] = SCENARIO_RESPONSE["small"]
