"""Shared fixtures: a small synthetic world generated once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from tipdrift.testing.synth import SynthConfig, write_synthetic

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated data set (seed 11, smaller than the committed one) with its truth."""
    out = tmp_path_factory.mktemp("synth")
    write_synthetic(out, SynthConfig(seed=11, scale=0.5), context_dir=out / "context_log")
    return out


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path
