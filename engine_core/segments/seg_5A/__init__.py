"""Segment 5A — arrival intensity surfaces (layer2 §2). RNG-free.

Landed so far: the scenario manifest and holiday calendar (S1), the weekly shapes (S2) and the
merchant-zone profiles (S3) as pure build functions with tests; the gate (S0), overlays (S4),
DST-exact surfaces (S5, over ``kernels/civil.py``) and the validation bundle (S6) are next, and
the states are registered once S6 can certify them.
"""
