"""Golden sha256 digests of the tiny world (seed 42): the determinism promise, pinned.

Regenerate deliberately with ``FWE_UPDATE_GOLDEN=1 make test`` when a law or contract
changes, and say why in the commit."""

import os
from pathlib import Path

from engine_core.runner import run_world
from engine_core.tools import data_files

GOLDEN = Path(__file__).parent / "tiny_seed42.sha256"


def listing(root: Path) -> str:
    return "".join(f"{p} {s}\n" for p, s in data_files(root))


def test_tiny_world_matches_golden_digests(tmp_path):
    run_world(profile="tiny", seed=42, data_root=tmp_path / "a", workers=1)
    run_world(profile="tiny", seed=42, data_root=tmp_path / "b")  # default workers
    got = listing(tmp_path / "a")
    assert got == listing(tmp_path / "b")
    if os.environ.get("FWE_UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
