"""Segment 3A — zone allocation (layer1 §5)."""
