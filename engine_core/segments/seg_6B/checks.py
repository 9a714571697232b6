"""The 6B check list (layer3 §4.7). Every 6B-I and 6B-R check belongs to a state of S1–S5
(none to the gate, §4.7); each joins this list with the state that produces its data."""

from __future__ import annotations

CHECKS: list = []
