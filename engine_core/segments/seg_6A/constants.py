"""6A gate thresholds and support minima (layer3 §3.7–§3.8): code constants, never policy
fields, so a world cannot pass by loosening its own floor."""

R01_MIN_PARTIES_PER_COUNTRY = 50
R02_HOUSEHOLD_MEAN = (1.9, 2.35)
R02_SHARE_SIZE_ONE = (0.30, 0.46)
R03_MEAN_TOLERANCE = 0.03  # relative, retail accounts per party vs plan
R03_SHARE_EXACTLY_ONE = (0.20, 0.60)
R03_P99_MAX = 8
