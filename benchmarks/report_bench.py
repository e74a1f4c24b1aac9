"""Report benchmark: one drift report per unit for a 50-unit synthetic world, and one
single report against papermill + nbconvert on an empty notebook.

    .venv/bin/python benchmarks/report_bench.py [--organisations 48] [--workers 2] [--repeats 1]
    .venv/bin/python benchmarks/report_bench.py --single [--repeats 5]

48 organisations + the joining one + the pooled series = 50 reports, run as
`tipdrift report drift --all-units` does (detection once, then papermill + nbconvert per
unit in worker processes). Prints the wall time per run, the median, and per report.

--single: alternately, (a) papermill runs a notebook holding only a parameters cell and
nbconvert writes its HTML (the floor any notebook report pays: kernel start, execution,
conversion) and (b) `tipdrift report drift` makes one unit's page from the committed
synthetic data (detection, charts, conversion); prints both medians and their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tipdrift.report import run_all_units
from tipdrift.testing.synth import SynthConfig, write_synthetic


REPO = Path(__file__).resolve().parents[1]


def empty_report(folder: Path) -> float:
    """Seconds for papermill + nbconvert on a notebook with only a parameters cell."""
    import nbformat
    from nbconvert import HTMLExporter

    from tipdrift.report import _execute

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    source = folder / "empty.ipynb"
    nbformat.write(nb, source)
    t = time.perf_counter()
    done = _execute("empty", source, folder / "empty_out.ipynb", {"x": 2}, "empty")
    (folder / "empty.html").write_text(HTMLExporter().from_notebook_node(done)[0], encoding="utf-8")
    return time.perf_counter() - t


def single_report(folder: Path) -> float:
    """Seconds for one drift report of the committed synthetic data (one organisation)."""
    from tipdrift.report import run_report

    t = time.perf_counter()
    run_report("drift", {"data_dir": str(REPO / "data" / "synthetic"), "context_dir": str(REPO / "context_log"),
                         "unit": "ORG008", "as_of": "2024-12-31"}, folder / "drift_ORG008.html")
    return time.perf_counter() - t


def single(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        empty, report = [], []
        for _ in range(repeats):  # alternated, so a busy moment of the machine hits both
            empty.append(empty_report(Path(tmp)))
            report.append(single_report(Path(tmp)))
    me, mr = statistics.median(empty), statistics.median(report)
    print(f"empty notebook (papermill + nbconvert): median {me:.2f} s ({', '.join(f'{x:.2f}' for x in empty)})")
    print(f"one drift report: median {mr:.2f} s ({', '.join(f'{x:.2f}' for x in report)})")
    print(f"ratio {mr / me:.2f} (target 1.5)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--organisations", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--single", action="store_true", help="one report against an empty notebook")
    args = ap.parse_args()
    if args.single:
        single(max(args.repeats, 3))
        return
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
