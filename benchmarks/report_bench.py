"""Report benchmark: one drift report per unit for a 50-unit synthetic world.

    .venv/bin/python benchmarks/report_bench.py [--organisations 48] [--workers 2] [--repeats 1]

48 organisations + the joining one + the pooled series = 50 reports, run as
`tipdrift report drift --all-units` does (detection once, then papermill + nbconvert per
unit in worker processes). Prints the wall time per run, the median, and per report.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tipdrift.report import run_all_units
from tipdrift.testing.synth import SynthConfig, write_synthetic


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--organisations", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_synthetic(data, SynthConfig(seed=3, arrests=2000, organisations=args.organisations),
                        context_dir=data / "context_log")
        times = []
        for i in range(args.repeats):
            out = Path(tmp) / f"reports{i}"
            t = time.perf_counter()
            run_all_units("drift", {"data_dir": str(data), "context_dir": str(data / "context_log"), "as_of": "2024-12-31"},
                          out, workers=args.workers, progress=False)
            times.append(time.perf_counter() - t)
            n = len(list(out.glob("drift_*.html")))
        med = statistics.median(times)
        print(f"{n} drift reports with {args.workers} workers: median {med:.1f} s over {args.repeats} runs "
              f"({', '.join(f'{x:.1f}' for x in times)}); {med / n:.2f} s per report")


if __name__ == "__main__":
    main()
