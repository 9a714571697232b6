"""Atomic publish: SIGKILL at every step leaves nothing or the complete output; reruns reuse;
different bytes conflict."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine_core.errors import EngineError
from engine_core.io.publish import (
    PUBLISHED,
    REUSED,
    publish_bytes,
    publish_dir,
    staging_path,
    tree_listing,
)

FILES = {f"part-{i:05d}.parquet": bytes([i]) * (50_000 + i) for i in range(4)}

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import engine_core.io.publish as pub

    root, kill_at, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    calls = {"n": 0}

    def point():
        if calls["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        calls["n"] += 1

    # every syscall publish makes is a kill point: before fsyncs, links and renames
    for name in ("fsync", "rename", "link", "unlink", "open"):
        real = getattr(os, name)
        def wrap(*a, _real=real, **k):
            point()
            return _real(*a, **k)
        setattr(pub.os, name, wrap)

    files = {f"part-{i:05d}.parquet": bytes([i]) * (50_000 + i) for i in range(4)}
    if mode == "dir":
        staged = pub.staging_path(root, "ds")
        staged.mkdir()
        for n, b in files.items():
            with open(staged / n, "wb") as f:
                point()
                f.write(b)
        pub.publish_dir(staged, root / "layer1/1A/ds/seed=1/manifest_fingerprint=x")
    else:
        pub.publish_bytes(b"{\\"a\\": 1}\\n" * 1000, root / "manifests/m.json", root)
    print("DONE")
    """
)


def run_child(root: Path, kill_at: int, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(kill_at), mode],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )


@pytest.mark.parametrize("mode", ["dir", "file"])
def test_sigkill_at_every_point_leaves_absent_or_complete(tmp_path, mode):
    final = (
        tmp_path / "layer1/1A/ds/seed=1/manifest_fingerprint=x"
        if mode == "dir"
        else tmp_path / "manifests/m.json"
    )
    expected = FILES if mode == "dir" else None
    killed = completed = 0
    for kill_at in range(0, 40):
        root = tmp_path / f"k{kill_at}"
        res = run_child(root, kill_at, mode)
        target = root / final.relative_to(tmp_path)
        if res.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert res.returncode == 0, res.stderr
            completed += 1
        if target.exists():  # complete and byte-identical, never partial
            if mode == "dir":
                assert {
                    p: b for p, b in ((q.name, q.read_bytes()) for q in target.iterdir())
                } == expected
            else:
                assert target.read_bytes() == b'{"a": 1}\n' * 1000
        else:
            assert res.returncode == -signal.SIGKILL
        # the killed run can always be completed by a rerun, which then reuses
        if res.returncode != 0:
            again = run_child(root, 10_000, mode)
            assert again.returncode == 0, again.stderr
        if completed:
            break
    assert killed >= 5 and completed == 1


def test_republish_identical_reuses_and_different_conflicts(tmp_path):
    final = tmp_path / "layer2/5B/x/seed=1/manifest_fingerprint=m/scenario_id=baseline"

    def stage(content: dict[str, bytes]) -> Path:
        s = staging_path(tmp_path, "x")
        s.mkdir()
        for n, b in content.items():
            (s / n).write_bytes(b)
        return s

    assert publish_dir(stage(FILES), final) == PUBLISHED
    before = tree_listing(final)
    assert publish_dir(stage(FILES), final) == REUSED
    changed = dict(FILES)
    changed["part-00001.parquet"] = b"different"
    with pytest.raises(EngineError) as e:
        publish_dir(stage(changed), final, state="5B.S4")
    assert e.value.full_code == "5B.S4.IO_WRITE_CONFLICT" and str(final) in e.value.message
    assert tree_listing(final) == before  # nothing overwritten
    assert not any((tmp_path / ".staging").iterdir())  # staged copies cleaned up

    f = tmp_path / "manifests/a.json"
    assert publish_bytes(b"1", f, tmp_path) == PUBLISHED
    assert publish_bytes(b"1", f, tmp_path) == REUSED
    with pytest.raises(EngineError, match="IO_WRITE_CONFLICT"):
        publish_bytes(b"2", f, tmp_path)
    assert f.read_bytes() == b"1"
