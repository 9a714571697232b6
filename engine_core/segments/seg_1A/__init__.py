"""Segment 1A — merchant universe, hurdle, outlet catalogue (layer1 §1)."""
