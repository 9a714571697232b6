"""6A gate thresholds and support minima (layer3 §3.7–§3.8): code constants, never policy
fields, so a world cannot pass by loosening its own floor."""

R01_MIN_PARTIES_PER_COUNTRY = 50
R02_HOUSEHOLD_MEAN = (1.9, 2.35)
R02_SHARE_SIZE_ONE = (0.30, 0.46)
R03_MEAN_TOLERANCE = 0.03  # relative, retail accounts per party vs plan
R03_SHARE_EXACTLY_ONE = (0.20, 0.60)
R03_P99_MAX = 8
R04_RETAIL_WITH_CARD = (0.85, 0.99)
R04_TOKEN_SHARE_TOLERANCE = 0.03  # absolute, vs the policy-implied share
R05_MIN_CARDS = 2000  # cells below this support are SKIPPED
R05_FLOOR = 0.02  # tolerance max(0.02, 4·√(p(1−p)/n))
R05_SIGMAS = 4.0
R06_MEAN_TOLERANCE = 0.03
R06_SHARE_ZERO = (0.05, 0.30)
R06_P99_MAX = 6
R07_SHARED_SHARE = (0.06, 0.30)
R07_PUBLIC_MIN_DEVICES = 50
R07_PUBLIC_MAX_USERS_MIN = 20
R08_FIXED_P50 = (1, 5)
R08_FIXED_P99_MAX = 14
R09_MIN_POOL = 200
R09_CGNAT_P50_MIN = 20
R09_TAIL_RATIO_MIN = 5
R10_MIN_IPS = 5000
R10_MIN_TAIL = 100
R10_ALPHA = (0.8, 2.5)
R11_IPS_PER_DEVICE = (1.2, 2.5)
R11_PROXY_SHARE = (0.01, 0.10)
R12_TOLERANCE = 0.15
R12_MIN_MEMBERS = 30
# powered only if the ±15 % band spans ≥ 2.5 relative s.e. (false FAIL ≤ 1.2 % of seeds):
# reference (≈ 410 members on the thin side) is powered, small (≈ 45) reports SKIPPED
R12_POWER_Z = 2.5
R13_RING_P50 = (5, 25)
R13_REACHED_SHARE = (0.70, 0.99)
R14_MIN_POSITIVES = 200
