"""5B constants — part sizes, guardrails, floors and check thresholds, pinned by layer2 §1.3,
§3–§5 (never policy fields, so a world cannot pass by loosening its own floor)."""

PART_ROWS = 2048  # domain rows per dense part (layer2 §1.3)
ARRIVAL_PART_TARGET = 2_097_152  # cut an arrival part once it reaches this many (§4.5)
ARRIVAL_ROW_GROUP = 1 << 20
LAMBDA_ZERO_EPS = 1e-9
LAMBDA_CEILING = 100_000.0
COUNT_CAP = 1_000_000
MAX_DAYS, MIN_DAYS, MAX_BUCKETS = 366, 7, 8784
REPLAY_STRIDE = 64  # R2 regenerates arrivals of bucket rows with domain_row mod 64 = 0

MODES = ("NON_VIRTUAL", "HYBRID", "VIRTUAL_ONLY")  # kernel codes 0, 1, 2
CHANNELS = ("card_not_present", "card_present")

# §3.2 grouping floors: G ≥, G ≤ share·D, median members ≥, multi-member share ≥, largest ≤
GROUPING_FLOORS = {
    "tiny": (3, 0.50, 2, 0.50, 0.40),
    "small": (50, 0.25, 8, 0.75, 0.08),
    "reference": (200, 0.25, 10, 0.80, 0.05),
    "large": (200, 0.25, 10, 0.80, 0.05),
}
GROUPING_ADVISORY = frozenset({"tiny"})

# §3.3 load-time latent floors
LATENT_MIN_DISTINCT_SIGMA = 3
LATENT_MEDIAN_L = (4.0, 48.0)
LATENT_CLIP_MIN_MAX, LATENT_CLIP_MAX_MIN = 0.5, 2.0

# §5.2 thresholds per profile
T3_MAE_PP = 0.5
T3_FLOOR = {"tiny": 5_000, "small": 50_000, "reference": 200_000, "large": 200_000}
T3_MIN_WINDOWS, T3_WINDOW_MIN_ARRIVALS = 3, 50
T6_MAX = {"tiny": 0.80, "small": 0.72, "reference": 0.72, "large": 0.72}
T7_BAND = {"tiny": (0.02, 0.60), "small": (0.08, 0.40), "reference": (0.08, 0.40)}
T7_BAND["large"] = T7_BAND["reference"]
T8_MAX_PP = {"tiny": 1.0, "small": 0.3, "reference": 0.3, "large": 0.3}
T9A_BAND = {"tiny": (0.95, 1.05), "small": (0.98, 1.02), "reference": (0.98, 1.02)}
T9A_BAND["large"] = T9A_BAND["reference"]
T9B_BAND = {"tiny": (0.005, 0.60), "small": (0.02, 0.50), "reference": (0.02, 0.50)}
T9B_BAND["large"] = T9B_BAND["reference"]
T10 = {"tiny": (0.05, 3.0), "small": (0.03, 1.5), "reference": (0.02, 1.5), "large": (0.02, 1.5)}
T10_SEEDS = (42, 7, 101)
T13 = {
    "tiny": ((0.90, 1.10), 0.005),
    "small": ((0.97, 1.03), 0.001),
    "reference": ((0.98, 1.02), 0.001),
}
T13["large"] = T13["reference"]
T14 = {"tiny": (0.85, 1.15), "small": (0.95, 1.05), "reference": (0.97, 1.03)}
T14["large"] = T14["reference"]
T15_MAX_Z, T15_MIN_CELL = 6.5, 100.0
T16_MAX_Z = 6.0
