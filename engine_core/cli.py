"""``fraud-engine`` — run, verify, digest and manifest without the UI (ARCHITECTURE §10)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from engine_core.errors import EngineError

PROFILES = ("tiny", "small", "reference", "large")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fraud-engine",
        description="Deterministic synthetic fraud-world engine (same inputs + seed ⇒ same bytes).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the states of a profile/seed in dependency order")
    r.add_argument("--profile", choices=PROFILES, default="small")
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--scenario", default=None, help="one scenario id (default: all)")
    r.add_argument("--data-root", type=Path, default=None)
    r.add_argument("--until", default=None, help="SEG or SEG.STATE to stop after")
    r.add_argument("--workers", type=int, default=None)
    r.add_argument(
        "--max-rows-in-memory",
        type=int,
        default=None,
        help="rows a layer-3 state sorts in memory before spilling (default: by profile)",
    )
    r.add_argument(
        "--only", action="store_true", help="run just the --until SEG.STATE (inputs published)"
    )
    r.add_argument("--no-progress", action="store_true")
    v = sub.add_parser(
        "verify", help="re-verify every validation bundle (HashGate) and every publish record"
    )
    v.add_argument("--data-root", type=Path, default=None)
    v.add_argument("--seed", type=int, default=None)
    d = sub.add_parser("digest", help="print '<relative path> <sha256>' of every data file")
    d.add_argument("--data-root", type=Path, default=None)
    m = sub.add_parser("manifest", help="print parameter_hash and manifest_fingerprint")
    m.add_argument("--profile", choices=PROFILES, default="small")
    return p


def _data_root(arg: Path | None) -> Path:
    from engine_core.paths import default_data_root

    return (arg or default_data_root()).resolve()


def cmd_manifest(args) -> int:
    from engine_core.manifest import build_manifest

    m = build_manifest(args.profile)
    print(f"profile              {m.profile_id}")
    print(f"parameter_hash       {m.ph}")
    print(f"manifest_fingerprint {m.mf}")
    print(f"worlds               {' '.join(m.worlds)}")
    return 0


def cmd_digest(args) -> int:
    from engine_core.tools import data_files

    root = _data_root(args.data_root)
    for rel, sha in data_files(root):
        print(f"{rel} {sha}")
    return 0


def cmd_verify(args) -> int:
    from engine_core.tools import verify_all, verify_records

    root = _data_root(args.data_root)
    results = verify_all(root, seed=args.seed)
    for rel, digest in results:
        print(f"OK {rel} {digest}")
    n = verify_records(root, seed=args.seed)
    print(f"{len(results)} bundle(s) and {n} published partition(s) verified under {root}")
    return 0


def cmd_run(args) -> int:
    from engine_core.runner import run_world

    if args.seed < 0 or args.seed >= 1 << 64:
        raise EngineError("USAGE", detail=f"--seed {args.seed} is not a uint64")
    if args.workers is not None and args.workers < 1:
        raise EngineError("USAGE", detail="--workers must be ≥ 1")
    if args.max_rows_in_memory is not None and args.max_rows_in_memory < 1:
        raise EngineError("USAGE", detail="--max-rows-in-memory must be ≥ 1")
    t0 = time.perf_counter()
    rows = run_world(
        profile=args.profile,
        seed=args.seed,
        data_root=_data_root(args.data_root),
        until=args.until,
        scenario=args.scenario,
        workers=args.workers,
        max_rows_in_memory=args.max_rows_in_memory,
        progress=not args.no_progress and sys.stderr.isatty(),
        only=args.only,
    )
    from engine_core.tools import print_run_table

    print_run_table(rows, time.perf_counter() - t0)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {
        "run": cmd_run,
        "verify": cmd_verify,
        "digest": cmd_digest,
        "manifest": cmd_manifest,
    }[args.cmd]
    try:
        return handler(args)
    except EngineError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (nothing partial was published)", file=sys.stderr)
        return 130
    except Exception as e:  # an engine bug, not bad input: still one line unless debugging
        if os.environ.get("FWE_DEBUG"):
            raise
        print(
            f"error: ENGINE.INTERNAL: {type(e).__name__}: {e} (set FWE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
