"""6B contract constants per profile (layer3 §4.8): S1 run files are cut by ``CHUNK_ROWS``
5B rows (bytes depend on it, so it is not an execution knob)."""

CHUNK_ROWS = {"tiny": 20_000, "small": 250_000, "reference": 1_000_000, "large": 1_000_000}
PARTY_CHUNK = 1_000_000  # parties per transfer/credit run file

# --- 6B.S5 realism gates (layer3 §4.6–§4.7): code constants, never policy fields, so a world
# cannot pass by loosening its own floor. Support minima below which a gate (or the part of
# it) is SKIPPED are ours where §4.7 names none: each keeps the band a ≥ 3.5σ event.
BASELINE_SAMPLE = {"tiny": 50_000, "small": 500_000, "reference": 2_000_000, "large": 2_000_000}
R01_SHARE_TOLERANCE = 0.005  # absolute
R02_CP_RESIDENT_MIN = 0.90
R02_CP_HOME_CELL_MIN = 0.60
R02_CP_FOREIGN = (0.01, 0.10)
R02_CNP_CROSS_BORDER = (0.08, 0.30)
R02_MIN_ROWS = 1000
R03_MIN_ROWS = 1000  # per MCC group
R03_MIN_MERCHANTS = 200
R03_MEDIAN_TOLERANCE = 0.10  # relative, on the amount scale
R03_SD_TOLERANCE = 0.15
R03_TILT_SD_TOLERANCE = 0.15
R03_BIN = 1e-3  # log-amount histogram bin of the streamed medians (≪ the ±10 % band)
R04_LEGIT_CP = (0.96, 0.995)
R04_LEGIT_CNP = (0.93, 0.985)
R04_FRAUD = (0.45, 0.85)
R04_MIN_ROWS = 1000  # legit rows per channel
R04_MIN_FRAUD = 200
R05_TOP_SHARE = (0.55, 0.90)
R05_MIN_PURCHASES = 10
R05_MIN_PARTIES = 200
R06_ATO_FOREIGN_DEVICE_MIN = 0.60
R06_LEGIT_OWN_DEVICE_MIN = 0.97
R06_MIN_ATO_ROWS = 50
R06_MIN_LEGIT_ROWS = 1000
R07_TESTING_GAP_MAX_S = 120.0
R07_CASHOUT_DAYS = (2.0, 10.0)
R07_MIN_GAPS = 50
R07_MIN_CARDS = 30
R08_MIN_CLUSTERS = 1000  # reported clusters per typology (§4.7)
R08_MEDIAN_TOLERANCE = 0.15
R08_P90_TOLERANCE = 0.20
R09_FLOOR = 0.03
R09_SIGMAS = 4.0
R09_MIN_CLUSTERS = 30
R09_FALSE_DISPUTE_TOLERANCE = 0.50  # relative
R09_MIN_FALSE_DISPUTES_EXPECTED = 100.0
R10_MAX_DISTINCT = 1000
R10_MIN_ROWS = 500
R10_MAX_SHARE = 0.75
R12_MIN_VALID_FRAUD = 200  # per typology
R13_DAY_SHARE_MAX = 0.10
R13_MIN_FRAUD = 1000
R11_MIN_POSITIVES = 200  # fraud rows in the scored half (as 6A-R14)
R12_MIN_FRAUD = 200  # fraud rows in TRAIN and in VALID for the overall AUC
