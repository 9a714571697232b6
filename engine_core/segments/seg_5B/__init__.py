"""Segment 5B — arrival realisation (layer2 §3–§6): gate, time grid and latent groups, LGCP
latent field and day effects, exact bucket counts, the compiled arrival/routing kernel, and
the validation bundle with gates T1–T16, R1, R2, G1."""
