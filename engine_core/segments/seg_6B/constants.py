"""6B contract constants per profile (layer3 §4.8): S1 run files are cut by ``CHUNK_ROWS``
5B rows (bytes depend on it, so it is not an execution knob)."""

CHUNK_ROWS = {"tiny": 20_000, "small": 250_000, "reference": 1_000_000, "large": 1_000_000}
PARTY_CHUNK = 1_000_000  # parties per transfer/credit run file
