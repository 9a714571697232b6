"""Segment 5A — arrival intensity surfaces (layer2 §2). RNG-free.

S0 gate · S1 scenario manifest and holiday calendar · S2 weekly shapes · S3 merchant-zone
profiles · S4 overlay factors · S5 DST-exact local and UTC surfaces (``kernels/civil.py``,
``kernels/surface.py``) · S6 validation bundle with checks A1–A14, one bundle per scenario.
"""
