"""Linkage benchmark: tipdrift (polars) against DuckDB ASOF joins and pandas merge_asof.

    .venv/bin/python benchmarks/link_bench.py [--arrests 10000000] [--repeats 3]

Generates a synthetic extract (Parquet, under benchmarks/data/, reused if present), then
links it with each engine in a fresh subprocess, `--repeats` times, from Parquet files
to a trajectories table in memory, and prints the median wall time, the peak resident
memory of the process, and the ratio to tipdrift.

The baselines do the same key joins and a nearest-date person match within the window
(DuckDB: ASOF join on person and date; pandas: merge_asof by person), but they neither
enforce one-to-one links nor prefer same-jurisdiction and same-type candidates, so they
do less work than tipdrift; their agreement with tipdrift's links is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WINDOW_DAYS = 24 * 365.25 / 12
DISP_WINDOW_DAYS = 60 * 365.25 / 12


def make_data(n_arrests: int, out: Path) -> None:
    from tipdrift.testing.synth import SynthConfig, generate

    if (out / "arrests.parquet").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    tables, _ = generate(SynthConfig(seed=1, arrests=n_arrests, organisations=4))
    for k in ("arrests", "prosecutions", "dispositions"):
        tables[k].write_parquet(out / f"{k}.parquet")
    print(f"generated {n_arrests:,} arrests in {time.perf_counter() - t:.1f} s -> {out}", flush=True)


def run_polars(data: Path) -> dict:
    import polars as pl

    from tipdrift.link import link_trajectories

    t = time.perf_counter()
    a, p, d = (pl.read_parquet(data / f"{k}.parquet") for k in ("arrests", "prosecutions", "dispositions"))
    res = link_trajectories(a, p, d)
    secs = time.perf_counter() - t
    t = res.trajectories
    ap = t.filter(pl.col("arrest_id").is_not_null() & pl.col("prosecution_id").is_not_null()).select("arrest_id", "prosecution_id")
    ap.write_parquet(data / "_polars_ap.parquet")
    return {"seconds": secs, "rows": t.height, "ap_links": ap.height}


def run_duckdb(data: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("PRAGMA threads=2")
    t = time.perf_counter()
    for k in ("arrests", "prosecutions", "dispositions"):
        con.execute(f"CREATE TABLE {k} AS SELECT * FROM read_parquet('{data / (k + '.parquet')}')")
    # key links, then the keyless prosecutions: the nearest earlier arrest and the nearest
    # later arrest (ASOF both ways), keeping the closer within the window
    con.execute(f"""
    CREATE TABLE ap AS
    WITH key AS (
        SELECT p.arrest_id, p.prosecution_id FROM prosecutions p JOIN arrests a USING (arrest_id)),
    rest AS (SELECT * FROM prosecutions WHERE prosecution_id NOT IN (SELECT prosecution_id FROM key)),
    back AS (
        SELECT r.prosecution_id, a.arrest_id, datediff('day', a.arrest_date, r.filing_date) AS gap
        FROM rest r ASOF JOIN arrests a ON r.person_id = a.person_id AND r.filing_date >= a.arrest_date),
    fwd AS (
        SELECT r.prosecution_id, a.arrest_id, datediff('day', r.filing_date, a.arrest_date) AS gap
        FROM rest r ASOF JOIN arrests a ON r.person_id = a.person_id AND r.filing_date <= a.arrest_date),
    best AS (
        SELECT prosecution_id, arg_min(arrest_id, gap) AS arrest_id FROM (SELECT * FROM back UNION ALL SELECT * FROM fwd)
        WHERE gap <= {WINDOW_DAYS} GROUP BY prosecution_id)
    SELECT arrest_id, prosecution_id FROM key UNION ALL SELECT arrest_id, prosecution_id FROM best""")
    con.execute(f"""
    CREATE TABLE pd AS
    WITH key AS (
        SELECT d.prosecution_id, d.disposition_id FROM dispositions d JOIN prosecutions p USING (prosecution_id)
        WHERE d.disposition_date >= p.filing_date),
    rest AS (SELECT * FROM dispositions WHERE disposition_id NOT IN (SELECT disposition_id FROM key))
    SELECT key.* FROM key UNION ALL
    SELECT p.prosecution_id, r.disposition_id FROM rest r ASOF JOIN prosecutions p
        ON r.person_id = p.person_id AND r.disposition_date >= p.filing_date
        WHERE datediff('day', p.filing_date, r.disposition_date) <= {DISP_WINDOW_DAYS}""")
    n = con.execute("""
        SELECT count(*) FROM arrests a LEFT JOIN ap USING (arrest_id)
        LEFT JOIN pd ON pd.prosecution_id = ap.prosecution_id""").fetchone()[0]
    secs = time.perf_counter() - t
    con.execute(f"COPY ap TO '{data / '_duckdb_ap.parquet'}' (FORMAT parquet)")
    return {"seconds": secs, "rows": n, "ap_links": con.execute("SELECT count(*) FROM ap").fetchone()[0]}


def run_pandas(data: Path) -> dict:
    import pandas as pd

    t = time.perf_counter()
    a, p, d = (pd.read_parquet(data / f"{k}.parquet") for k in ("arrests", "prosecutions", "dispositions"))
    for df, col in ((a, "arrest_date"), (p, "filing_date"), (d, "disposition_date")):
        df[col] = pd.to_datetime(df[col])
    key = p.dropna(subset=["arrest_id"]).merge(a[["arrest_id"]], on="arrest_id")[["arrest_id", "prosecution_id"]]
    rest = p[~p["prosecution_id"].isin(key["prosecution_id"])].sort_values("filing_date")
    near = pd.merge_asof(rest, a[["arrest_id", "person_id", "arrest_date"]].sort_values("arrest_date"),
                         left_on="filing_date", right_on="arrest_date", by="person_id", direction="nearest",
                         tolerance=pd.Timedelta(days=WINDOW_DAYS), suffixes=("_key", ""))
    ap = pd.concat([key, near.dropna(subset=["arrest_id"])[["arrest_id", "prosecution_id"]]])
    dk = d.dropna(subset=["prosecution_id"]).merge(p[["prosecution_id", "filing_date"]], on="prosecution_id")
    dk = dk[dk["disposition_date"] >= dk["filing_date"]][["prosecution_id", "disposition_id"]]
    drest = d[~d["disposition_id"].isin(dk["disposition_id"])].sort_values("disposition_date")
    dnear = pd.merge_asof(drest, p[["prosecution_id", "person_id", "filing_date"]].sort_values("filing_date"),
                          left_on="disposition_date", right_on="filing_date", by="person_id", direction="backward",
                          tolerance=pd.Timedelta(days=DISP_WINDOW_DAYS), suffixes=("_key", ""))
    pdl = pd.concat([dk, dnear.dropna(subset=["prosecution_id"])[["prosecution_id", "disposition_id"]]])
    out = a.merge(ap, on="arrest_id", how="left").merge(pdl, on="prosecution_id", how="left")
    secs = time.perf_counter() - t
    ap.to_parquet(data / "_pandas_ap.parquet")
    return {"seconds": secs, "rows": len(out), "ap_links": len(ap)}


ENGINES = {"tipdrift (polars)": run_polars, "duckdb ASOF": run_duckdb, "pandas merge_asof": run_pandas}


def child(engine: str, data: Path) -> None:
    res = ENGINES[engine](data)
    res["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps(res))


def agreement(data: Path, name: str) -> float:
    import polars as pl

    ours = pl.read_parquet(data / "_polars_ap.parquet")
    theirs = pl.read_parquet(data / f"_{name}_ap.parquet").select(pl.col("arrest_id").cast(pl.String),
                                                                  pl.col("prosecution_id").cast(pl.String))
    return ours.join(theirs, on=["arrest_id", "prosecution_id"], how="semi").height / max(ours.height, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arrests", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default="all", help="comma-separated subset of: polars,duckdb,pandas")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    data = Path(args.data) if args.data else HERE / "data" / f"link_{args.arrests}"
    if args.child:
        child(args.child, data)
        return
    make_data(args.arrests, data)
    import polars as pl

    sizes = {k: pl.scan_parquet(data / f"{k}.parquet").select(pl.len()).collect().item()
             for k in ("arrests", "prosecutions", "dispositions")}
    print(f"input: {sizes['arrests']:,} arrests, {sizes['prosecutions']:,} prosecutions, {sizes['dispositions']:,} dispositions")
    print(f"machine: {os.cpu_count()} cores; {args.repeats} runs per engine, each in a fresh process")
    wanted = {"polars": "tipdrift (polars)", "duckdb": "duckdb ASOF", "pandas": "pandas merge_asof"}
    engines = list(ENGINES) if args.engines == "all" else [wanted[e] for e in args.engines.split(",")]
    results: dict[str, list[dict]] = {}
    for engine in engines:
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, __file__, "--child", engine, "--data", str(data)],
                                 capture_output=True, text=True, check=True)
            results.setdefault(engine, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["seconds"] for r in results[engines[0]])
    print(f"\n{'engine':<20} {'median s':>9} {'peak GB':>8} {'x tipdrift':>10} {'A->P links':>11} {'same links':>10}")
    for engine, runs in results.items():
        med = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_rss_gb"] for r in runs)
        short = {"tipdrift (polars)": "polars", "duckdb ASOF": "duckdb", "pandas merge_asof": "pandas"}[engine]
        agree = agreement(data, short) if short != "polars" else 1.0
        print(f"{engine:<20} {med:>9.2f} {peak:>8.2f} {med / base:>10.2f} {runs[0]['ap_links']:>11,} {agree:>10.1%}")


if __name__ == "__main__":
    main()
