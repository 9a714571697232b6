"""Segment 1B — site placement on real populated places (layer1 §2)."""
