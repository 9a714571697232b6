"""Where the project's governed files live (policies/, contracts/).

The engine reads them from the project root: ``$FWE_PROJECT_ROOT`` if set, else the source
tree this package sits in. Data goes under a data root chosen by the user (CLI flag or the
Dagster resource), defaulting to ``$FWE_DATA_ROOT`` or ``./data``.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("FWE_PROJECT_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def contracts_root() -> Path:
    return project_root() / "contracts"


def policies_root() -> Path:
    return project_root() / "policies"


def default_data_root() -> Path:
    return Path(os.environ.get("FWE_DATA_ROOT", "data")).resolve()
