"""The `tipdrift` command line. Every command only calls the package.

File-level input problems and bad parameters print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import polars as pl

from tipdrift.errors import InputFileError, ParameterError

TABLE_FILES = ("arrests", "prosecutions", "dispositions", "cases")


def _find_table(data_dir: Path, kind: str) -> Path:
    for ext in ("parquet", "csv", "xlsx"):
        p = data_dir / f"{kind}.{ext}"
        if p.exists():
            return p
    raise InputFileError(str(data_dir / f"{kind}.*"), f"no {kind} table (.parquet, .csv or .xlsx) in this folder")


def _print_load_summary(s: dict) -> None:
    reasons = ", ".join(f"{k}={v}" for k, v in s["reasons"].items()) or "none"
    print(f"{s['kind']:<13} {s['source']}: rows {s['rows']}, accepted {s['accepted']}, rejected {s['rejected']} (reasons: {reasons})")


def _report_unmapped(s: dict) -> bool:
    for col, labels in s.get("unmapped_labels", {}).items():
        listed = ", ".join(f"'{k}' ({v} rows)" for k, v in labels.items())
        print(f"error: {s['source']}: unmapped labels in column '{col}': {listed}; add them under labels.{col} in the mapping file",
              file=sys.stderr)
    return bool(s.get("unmapped_labels"))


# ---------------------------------------------------------------- commands

def cmd_synth(args: argparse.Namespace) -> int:
    from tipdrift.synth import SynthConfig, write_synthetic

    cfg = SynthConfig(seed=args.seed, scale=args.scale)
    written = write_synthetic(args.out_dir, cfg, context_dir=args.context_dir, fmt=args.format,
                              with_truth_links=not args.no_truth_links)
    for k, v in written.items():
        print(f"{k:<13} {v}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tipdrift.load import load_table

    res = load_table(args.table_kind, args.path, mapping=args.mapping, as_of=args.as_of)
    _print_load_summary(res.summary)
    if args.rejected:
        res.rejected.write_csv(args.rejected)
        print(f"rejected rows written to {args.rejected}")
    elif res.rejected.height:
        print(res.rejected.head(10))
    return 1 if _report_unmapped(res.summary) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tipdrift.load import load_table

    data = Path(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"== tipdrift demo on {data} (outputs in {out})\n")
    print("-- 1. load and validate")
    loaded = {}
    for kind in TABLE_FILES:
        res = load_table(kind, _find_table(data, kind), as_of=args.as_of)
        _print_load_summary(res.summary)
        loaded[kind] = res
    ctx_files = sorted(Path(args.context).glob("*.csv"))
    for f in ctx_files:
        _print_load_summary(load_table("context", f, as_of=args.as_of).summary)
    cases = loaded["cases"].accepted
    per_org = (cases.group_by("org_id").agg(pl.len().alias("cases"), pl.col("opened_date").min().alias("first"),
                                            pl.col("opened_date").max().alias("last"))
               .sort("org_id"))
    print(f"\n{cases.height} case records from {per_org.height} organisations, "
          f"{cases['opened_date'].min()} to {cases['opened_date'].max()}")
    arrests = loaded["arrests"].accepted
    print(f"{arrests.height} arrests of {arrests['person_id'].n_unique()} persons in "
          f"{arrests['jurisdiction'].n_unique()} jurisdictions, {arrests['arrest_date'].min()} to {arrests['arrest_date'].max()}")
    return 0


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tipdrift", description=__doc__.splitlines()[0] if __doc__ else None)
    from tipdrift import __version__

    p.add_argument("--version", action="version", version=f"tipdrift {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("synth", help="write synthetic data with known truth (truth.json)")
    s.add_argument("out_dir", help="folder for the tables and truth.json")
    s.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    s.add_argument("--scale", type=float, default=1.0, help="multiplies arrests and organisations (default 1)")
    s.add_argument("--context-dir", default=None, help="folder for the context log (default OUT_DIR/context_log)")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="table file format")
    s.add_argument("--no-truth-links", action="store_true", help="leave the (large) link lists out of truth.json")
    s.set_defaults(func=cmd_synth)

    v = sub.add_parser("validate", help="load one table, report accepted and rejected rows")
    v.add_argument("table_kind", choices=("arrests", "prosecutions", "dispositions", "cases", "context"))
    v.add_argument("path", help="CSV, Parquet or .xlsx file")
    v.add_argument("--mapping", default=None, help="YAML mapping of source columns and labels")
    v.add_argument("--rejected", default=None, help="write the rejected rows to this CSV")
    v.add_argument("--as-of", default=None, help="extract date; later dates are rejected (default today)")
    v.set_defaults(func=cmd_validate)

    d = sub.add_parser("demo", help="run the main job on the embedded synthetic data")
    d.add_argument("--data", default="data/synthetic", help="folder with arrests, prosecutions, dispositions, cases")
    d.add_argument("--context", default="context_log", help="folder of context-log CSV files")
    d.add_argument("--out", default="out", help="folder for outputs")
    d.add_argument("--as-of", default="2024-12-31", help="extract date of the data (default 2024-12-31)")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (InputFileError, ParameterError) as exc:
        print(f"tipdrift: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
