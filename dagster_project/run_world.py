"""``make run``: register a world on the embedded instance and materialise it through Dagster.

Uses ``$DAGSTER_HOME`` (SQLite by default) so the runs, materialisations and check results
appear in ``make ui`` afterwards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dagster as dg

from dagster_project.assets import materializable_assets
from dagster_project.checks import all_checks
from dagster_project.partitions import partition_key
from dagster_project.registration import register_world
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dagster_project.run_world")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args(argv)
    instance = dg.DagsterInstance.get()
    try:
        m = register_world(instance, args.profile, args.data_root, [args.seed])
    except EngineError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    engine = EngineResource(
        data_root=str(args.data_root),
        profiles=[args.profile],
        default_seeds=[args.seed],
        workers=args.workers,
    )
    ok = True
    for world in m.worlds:
        result = dg.materialize(
            [*materializable_assets(), *all_checks()],
            instance=instance,
            partition_key=partition_key(args.seed, world),
            resources={"engine": engine},
            raise_on_error=False,
            tags={"fwe/profile": args.profile},
        )
        checks = result.get_asset_check_evaluations()
        failed = [
            c.check_name
            for c in checks
            if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
        ]
        warned = [c.check_name for c in checks if not c.passed and c.check_name not in failed]
        skipped = [
            c.check_name
            for c in checks
            if getattr(c.metadata.get("status"), "value", None) == "SKIPPED"
        ]
        print(
            f"world {world} seed {args.seed}: run {result.run_id} "
            f"{'succeeded' if result.success else 'FAILED'}; "
            f"{len(checks)} checks, {len(failed)} failed {failed or ''}"
            + (f"; advisory (WARN) gates not met: {warned}" if warned else "")
            + (f"; SKIPPED (no power in this profile): {skipped}" if skipped else "")
        )
        ok = ok and result.success and not failed
    print(f"data under {args.data_root.resolve()}; open the UI with `make ui`")
    ml = sorted((args.data_root / "layer3/6B/ml_transactions_6B").glob("seed=*/*/scenario_id=*"))
    for part in ml:  # the tables the users came for (README: "The ML tables")
        labels = Path(str(part).replace("ml_transactions_6B", "ml_labels_6B"))
        print(f"ML tables: {part.resolve()}/*.parquet + {labels.resolve()}/*.parquet")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
