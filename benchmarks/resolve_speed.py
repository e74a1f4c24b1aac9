"""Speed and memory of person resolution at scale: issue 12's 200,000 arrests, 120,000
prosecutions and 110,000 dispositions, with no shared person id and no record references.

    .venv/bin/python benchmarks/resolve_speed.py [--scale 10.3] [--reps 3] [--modes baseline,duckdb,spark]

A generated world (seed 2024, `--scale` 10.3 gives about 200k/120k/110k) re-issued as three
agencies' files (`tipdrift.testing.persons`, references=False). Each run is its own child
process, so its peak memory is its own: the child's maximum resident set and, for Spark,
the JVM's (a child of the child, sampled every half second). Timed: resolution (training included) and linking from
loaded frames. Baseline in the same script: linking the same frames by the true person
ids (what a shared id would cost). Spark runs in local mode on this machine's cores.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("arrests", "prosecutions", "dispositions")


def make_world(scale: float, out: Path) -> Path:
    import polars as pl

    from tipdrift.testing.persons import write_noisy_world
    from tipdrift.testing.synth import SynthConfig, generate

    tables, truth = generate(SynthConfig(seed=2024, scale=scale))
    src = out / "source"
    src.mkdir()
    for k in KINDS:
        tables[k].write_parquet(src / f"{k}.parquet")
    (src / "truth.json").write_text(json.dumps(truth, default=str))
    world = write_noisy_world(src, out / "agencies", seed=5, references=False)
    for k in KINDS:  # the true persons, for the baseline only
        tables[k].select(pl.col(tables[k].columns[0]).alias("rid"), "person_id").write_parquet(out / f"true_{k}.parquet")
    return world


def _sample_children(peak: list[float], stop: "threading.Event") -> None:
    """Largest total resident memory of this process's children (Spark's JVM), in GB."""
    import psutil

    me = psutil.Process()
    while not stop.wait(0.5):
        try:
            peak[0] = max(peak[0], sum(c.memory_info().rss for c in me.children(recursive=True)) / 1e9)
        except psutil.Error:
            pass


def _child(mode: str, world: str, queue: mp.Queue) -> None:
    import threading

    import polars as pl

    from tipdrift.link import link_trajectories
    from tipdrift.load import load_table
    from tipdrift.resolve import resolve_persons
    from tipdrift.testing.evaluate import evaluate_linkage

    w = Path(world)
    truth = json.loads((w / "truth.json").read_text())
    tables = {k: load_table(k, w / f"{k}.csv", as_of=str(truth["as_of"]), optional=("person_id",)).accepted
              for k in KINDS}
    jvm, stop = [0.0], threading.Event()
    threading.Thread(target=_sample_children, args=(jvm, stop), daemon=True).start()
    t = time.perf_counter()
    if mode == "baseline":
        ids = {k: tables[k].columns[0] for k in KINDS}
        frames = {k: tables[k].drop("person_id").join(pl.read_parquet(w.parent / f"true_{k}.parquet"),
                                                     left_on=ids[k], right_on="rid", how="left", maintain_order="left")
                  for k in KINDS}
        summary: dict = {}
    else:
        res = resolve_persons(tables, backend=mode)
        frames, summary = {k: tables[k].with_columns(res.keys[k]) for k in KINDS}, res.summary
    traj = link_trajectories(*(frames[k] for k in KINDS)).trajectories
    seconds = time.perf_counter() - t
    lk = evaluate_linkage(traj, truth)
    stop.set()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # GB (Linux: kB)
    queue.put({"mode": mode, "seconds": seconds, "peak_gb": own, "jvm_peak_gb": jvm[0],
               "records": {k: tables[k].height for k in KINDS}, "pairs": summary.get("pairs_scored"),
               "linkage": {k: (round(v["precision"], 3), round(v["recall"], 3)) for k, v in lk.items()}})


def run(mode: str, world: Path) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(mode, str(world), q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="baseline,duckdb",
                    help="comma list of baseline, duckdb, spark (Spark local mode runs once: it is slow here)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        world = make_world(args.scale, Path(tmp))
        print(f"world written in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        modes = args.modes.split(",")
        results = {m: [run(m, world) for _ in range(args.reps if m != "spark" else 1)] for m in modes}
    for m, rs in results.items():
        secs = [r["seconds"] for r in rs]
        print(f"{m}: median {statistics.median(secs):.1f} s over {len(secs)} (runs {', '.join(f'{s:.1f}' for s in secs)}); "
              f"peak {max(r['peak_gb'] for r in rs):.2f} GB (+ JVM {max(r['jvm_peak_gb'] for r in rs):.2f} GB); "
              f"records {rs[0]['records']}; pairs scored {rs[0]['pairs']}; links {rs[0]['linkage']}")
    if "baseline" not in results:
        return
    base = statistics.median(r["seconds"] for r in results["baseline"])
    for m in (m for m in modes if m != "baseline"):
        print(f"{m} / baseline (true person ids): {statistics.median(r['seconds'] for r in results[m]) / base:.1f}x")


if __name__ == "__main__":
    main()
