"""Segment 2B — routing weights, alias tables, day effects (layer1 §4)."""
