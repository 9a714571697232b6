"""The CLI: manifest, run, digest, verify; EngineErrors are one line and a non-zero exit."""

import subprocess
import sys

import pytest

from engine_core.cli import main
from engine_core.manifest import build_manifest
from tests.engine_core.gates.test_hashgate import make_world


def test_manifest_prints_ph_and_mf(capsys):
    assert main(["manifest", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    m = build_manifest("tiny")
    assert f"parameter_hash       {m.ph}" in out and f"manifest_fingerprint {m.mf}" in out


def test_run_is_idempotent_and_digest_is_sorted(tmp_path, capsys):
    root = tmp_path / "d"
    argv = ["run", "--profile", "tiny", "--seed", "42", "--data-root", str(root), "--until", "1A"]
    assert main(argv) == 0
    assert "published" in capsys.readouterr().out
    assert (
        main(
            ["run", "--profile", "tiny", "--seed", "42", "--data-root", str(root), "--workers", "1"]
        )
        == 0
    )
    assert "reused" in capsys.readouterr().out
    (root / ".staging" / "junk").mkdir(parents=True)
    (root / ".staging" / "junk" / "x").write_text("scratch")
    assert main(["digest", "--data-root", str(root)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    paths = [ln.split(" ")[0] for ln in lines]
    assert paths == sorted(paths) and any(p.startswith("manifests/") for p in paths)
    assert not any(".staging" in p for p in paths)


def test_verify_passes_then_fails_naming_the_tampered_file(tmp_path, capsys):
    bundle, ds, _ = make_world(tmp_path)
    assert main(["verify", "--data-root", str(tmp_path)]) == 0
    assert "1 bundle(s) and 1 published partition(s) verified" in capsys.readouterr().out
    part = ds / "part-00000.parquet"
    b = bytearray(part.read_bytes())
    b[100] ^= 0xFF
    part.write_bytes(bytes(b))
    assert main(["verify", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(part) in err[0] and "HASHGATE_FAILED" in err[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--profile", "tiny", "--seed", "1", "--until", "9Z"], "ENGINE.USAGE: --until 9Z"),
        (["run", "--profile", "tiny", "--seed", str(2**64)], "is not a uint64"),
        (["digest", "--data-root", "/nonexistent/x"], "does not exist"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, argv, needle):
    if argv[0] == "run":
        argv = [*argv, "--data-root", str(tmp_path)]
    res = subprocess.run(
        [sys.executable, "-m", "engine_core.cli", *argv], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr
    assert "Traceback" not in res.stderr
