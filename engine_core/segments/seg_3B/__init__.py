"""Segment 3B — virtual merchants and edges (layer1 §6)."""
