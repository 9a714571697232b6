"""Segment 5B asset checks: T1–T16, R1, R2, G1 are declared on validation_bundle_5B and
evaluated inside 5B.S5's own pass (see ``assets/seg_5B.py``); T10 lives on the panel asset."""

checks: list = []
