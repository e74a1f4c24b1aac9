"""The `tipdrift` command line. Every command only calls the package.

File-level input problems and bad parameters print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from tipdrift.errors import DataError, InputFileError, ParameterError, ReportError, visible
from tipdrift.load import find_table
from tipdrift.params import (DEFAULT_MAX_REJECTED, FREQS, OUTCOME_ORIGINS, REPORT_KINDS, DriftParams,
                             TrajectoryParams, check_share)

TABLE_FILES = ("arrests", "prosecutions", "dispositions", "cases")


def _print_load_summary(s: dict, notes: bool = False) -> None:
    reasons = ", ".join(f"{k}={v}" for k, v in s["reasons"].items()) or "none"
    skipped = f" ({s['skipped']} more skipped: not records of this table)" if s.get("skipped") else ""
    print(f"{s['kind']:<13} {s['source']}: rows {s['rows']}{skipped}, accepted {s['accepted']}, "
          f"rejected {s['rejected']} (reasons: {reasons})")
    for line in s.get("notes", []) if notes else []:
        print(f"  mapping: {visible(line)}")


def _report_unmapped(s: dict) -> bool:
    for col, labels in s.get("unmapped_labels", {}).items():
        listed = ", ".join(f"'{visible(k)}' ({v} rows)" for k, v in labels.items())
        print(f"error: {s['source']}: unmapped labels in column '{col}': {listed}; add them under labels.{col} in the mapping file",
              file=sys.stderr)
    return bool(s.get("unmapped_labels"))


# ---------------------------------------------------------------- commands

def cmd_synth(args: argparse.Namespace) -> int:
    from tipdrift.testing.synth import SynthConfig, write_synthetic

    cfg = SynthConfig(seed=args.seed, scale=args.scale)
    written = write_synthetic(args.out_dir, cfg, context_dir=args.context_dir, fmt=args.format,
                              with_truth_links=not args.no_truth_links)
    for k, v in written.items():
        print(f"{k:<13} {v}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tipdrift.load import load_table

    from tipdrift.drift import DEFAULT_COLUMNS

    default_unit = DEFAULT_COLUMNS.get(args.table_kind, (None,))[0]
    optional = (default_unit,) if args.unit and default_unit and args.unit != default_unit else ()
    res = load_table(args.table_kind, args.path, mapping=args.mapping, as_of=args.as_of, optional=optional)
    _print_load_summary(res.summary, notes=True)
    if args.rejected:
        res.rejected.write_csv(args.rejected)
        print(f"rejected rows written to {args.rejected}")
    elif res.rejected.height:
        print(res.rejected.head(10))
    return 1 if _report_unmapped(res.summary) else 0


def drift_step(table: str | Path, params: DriftParams, out: str | Path, **choice: Any) -> Any:
    """Detect, write shifts.json, print the load summary, the series counts and the shifts
    table (the `drift` command and the demo's step 3)."""
    from tipdrift.drift import run_drift, write_json
    from tipdrift.views import shifts_frame

    run = run_drift(table, params, **choice)
    _print_load_summary(run.loaded.summary, notes=True)
    _report_unmapped(run.loaded.summary)
    if run.unit_unknown:
        print(f"{run.unit_unknown} accepted rows have no known {run.table.unit} (blank or declared unknown): "
              f"counted in no unit's series")
    for w in run.warnings:
        print(w, file=sys.stderr)
    write_json(run.document(), out)
    skipped = "; ".join(f"{st} {len(us)}: {', '.join(us[:10])}{' ...' if len(us) > 10 else ''}"
                        for st in ("too_short", "too_sparse")
                        if (us := [s.unit for s in run.statuses if s.status == st]))
    tested = ", ".join(f"{k} {v}" for k, v in run.family.items())
    print(f"{len(run.statuses)} series ({skipped or 'all analysed'}); {len(run.shifts)} significant shifts "
          f"(BH-adjusted p <= {params.alpha} over {tested} tested candidates) -> {out}")
    for kind, dep in run.dependence.items():
        print(dep.describe(kind), file=sys.stderr if dep.source == "unit" else sys.stdout)
        if not dep.shared:
            print(f"{kind}: {dep.unshared()}", file=sys.stderr)
    for w in (run.context or {}).get("warnings", []):
        print(w, file=sys.stderr)
    with pl.Config(tbl_rows=200, tbl_width_chars=220, fmt_str_lengths=70, tbl_hide_dataframe_shape=True):
        print(shifts_frame(run.shifts, params.freq))
    _report_rejected_context(run.context)
    return run


def _report_rejected_context(context: dict | None) -> bool:
    """Print every rejected context-log row (file, row, reason); True when there were any."""
    from tipdrift.context import rejected_lines

    lines = rejected_lines((context or {}).get("rejected", []))
    for line in lines:
        print(line, file=sys.stderr)
    if lines:
        print(f"error: {len(lines)} context-log rows rejected: shifts near them may read as unexplained; "
              f"fix the rows and run again", file=sys.stderr)
    return bool(lines)


def cmd_drift(args: argparse.Namespace) -> int:
    params = DriftParams.from_dict({k: getattr(args, k) for k in DRIFT_FLAGS})
    run = drift_step(args.table, params, args.out, kind=args.kind, unit=args.unit, date=args.date,
                     category=args.category, context=args.context, as_of=args.as_of, mapping=args.mapping,
                     max_rejected=args.max_rejected)
    unmapped = bool(run.loaded.summary.get("unmapped_labels"))
    return 1 if (run.context or {}).get("rejected") or run.warnings or unmapped else 0


def cmd_review(args: argparse.Namespace) -> int:
    from tipdrift.drift import read_shifts
    from tipdrift.review import format_review, load_reviews, review, unmatched_acknowledgements

    doc, shifts = read_shifts(args.shifts)
    reviews = load_reviews(args.acknowledged) if args.acknowledged else None
    result = review(shifts, reviews, len(doc.get("context_without_shift", [])))
    if args.format == "json":
        print(json.dumps(result, indent=1))
    else:
        print(format_review(result))
    for line in unmatched_acknowledgements(shifts, reviews):
        print(line, file=sys.stderr)
    bad_context = _report_rejected_context(doc.get("context"))
    return 1 if bad_context or (args.strict and result["unexplained_unacknowledged"]) else 0


def link_step(loads: dict[str, Any], tparams: TrajectoryParams, out: str | Path, as_of: str | None = None,
              match: str = "key", threshold: float | None = None, model: str | None = None,
              backend: str = "duckdb", spark_master: str = "local[*]") -> Any:
    """Link loaded sources, write trajectories, rejected rows and counts (with the extract
    date when one was given), print the counts (the `link` command and the demo's step 2)."""
    from tipdrift.link import link_loaded

    res = link_loaded(loads, tparams.window_months, tparams.disposition_window_months, match=match,
                      threshold=threshold, model=model, backend=backend, spark_master=spark_master)
    if as_of:
        res.summary["as_of"] = as_of
    written = res.write(out)
    _print_link_summary(res.summary)
    for name, c in res.summary["links"].items():
        if c["link_rate"] is not None and c["link_rate"] < 0.10:
            print(f"warning: {name.replace('_', ' -> ')} linked only {c['link_rate']:.1%} of records: do the tables "
                  f"share person ids (the same values, the same format: '1' is not '1.0' or 'P0001'), and do the "
                  f"keys name records in this extract?", file=sys.stderr)
    for k, v in written.items():
        print(f"{k:<13} {v}")
    return res


def cmd_link(args: argparse.Namespace) -> int:
    from tipdrift.load import load_table
    from tipdrift.mapping import Mapping

    tparams = TrajectoryParams.from_dict({"window_months": args.window_months,
                                          "disposition_window_months": args.disposition_window_months})
    if args.match_threshold is not None and not 0 < args.match_threshold < 1:
        raise ParameterError(f"--match-threshold must be between 0 and 1, not {args.match_threshold}")
    if args.match == "key" and (args.model or args.match_threshold is not None or args.backend != "duckdb"):
        raise ParameterError("--model, --match-threshold and --backend need --match probabilistic")
    # resolving persons from names and birth dates: the agencies' own person ids may be absent
    optional = ("person_id",) if args.match == "probabilistic" else ()
    loads = {k: load_table(k, getattr(args, k), mapping=args.mapping, as_of=args.as_of, optional=optional)
             for k in ("arrests", "prosecutions", "dispositions")}
    _stop_on_rejected(loads, args.max_rejected, Path(args.out))
    given = args.as_of or (Mapping.from_yaml(args.mapping).for_table("arrests").as_of if args.mapping else None)
    if args.model and not Path(args.model).is_file():
        raise InputFileError(args.model, "linkage model not found (a linkage_model.json written by `tipdrift link`)")
    res = link_step(loads, tparams, args.out, as_of=str(given) if given else None, match=args.match,
                    threshold=args.match_threshold, model=args.model, backend=args.backend,
                    spark_master=args.spark_master)
    return 1 if any(_report_unmapped(s | {"source": s["path"]}) for s in res.summary["sources"].values()) else 0


def _stop_on_rejected(loads: dict[str, Any], max_rejected: float, out: Path) -> None:
    """Stop (DataError) when a source has more than `max_rejected` of its rows rejected,
    first writing every source's rejected rows to out/rejected.csv, where a finished run
    puts them, so the user sees which rows and why. An earlier run's trajectories and
    summary in `out` are removed: beside this rejected.csv they would read as one run's."""
    from tipdrift.checks import check_rejected, too_many_rejected

    if not any(too_many_rejected(l.summary, max_rejected) for l in loads.values()):
        return
    out.mkdir(parents=True, exist_ok=True)
    pl.concat([l.rejected for l in loads.values()], how="diagonal_relaxed").write_csv(out / "rejected.csv")
    stale = [f for f in ("trajectories.parquet", "summary.json") if (out / f).is_file()]
    for f in stale:
        (out / f).unlink()
    removed = f" (an earlier run's {' and '.join(stale)} removed from {out})" if stale else ""
    for l in loads.values():
        check_rejected(l.summary, max_rejected, rows_at=str(out / "rejected.csv") + removed)


def _print_link_summary(summary: dict) -> None:
    for kind, s in summary["sources"].items():
        reasons = ", ".join(f"{k}={v}" for k, v in s["reasons"].items()) or "none"
        skipped = f" ({s['skipped']} more skipped: not records of this table)" if s.get("skipped") else ""
        print(f"{kind:<13} rows {s['rows']}{skipped}, in trajectories {s['accepted']}, rejected {s['rejected']} "
              f"(reasons: {reasons})")
    for name, c in summary["links"].items():
        before = (f"; {c['keyless_before_filing']} keyless before every filing of their person (kept unlinked: "
                  "their filing may predate the extract)") if c.get("keyless_before_filing") else ""
        print(f"{name:<24} key {c['key']}, person+window {c['person_window']}, unlinked {c['none']} "
              f"(link rate {c['link_rate']:.1%}){before}")
    stages = ", ".join(f"{k} {v}" for k, v in summary["entry_stage"].items())
    print(f"{summary['trajectories']} trajectories by entry stage: {stages}")
    if "persons" in summary:
        p = summary["persons"]
        print(f"persons resolved from names and birth dates: {p['records']} records -> {p['persons']} persons at "
              f"match probability >= {p['threshold']:g} ({p['pairs_scored']} pairs scored; {p['review_pairs']} "
              "borderline pairs in review_links.csv)")
        if p.get("reference_links") or p.get("codefendant_merges_refused"):
            print(f"records tied by their references (a filing's arrest_id, an outcome's prosecution_id): "
                  f"{p.get('reference_links', 0)}; links refused because they would make co-defendants of one "
                  f"case_id one person: {p.get('codefendant_merges_refused', 0)}")
        if p.get("birth_dates_unread"):
            print(f"birth dates not read (blank, another format, or 1900/1901-01-01): {p['birth_dates_unread']} records "
                  "compared without one")
        low = p.get("window_links_below_threshold", {})
        if any(low.values()):
            print(f"window links whose own records scored below {p['threshold']:g} (joined through other records of "
                  f"the person; match probability in trajectories.parquet): "
                  + ", ".join(f"{k} {v}" for k, v in low.items()))


def attrition_step(traj: pl.DataFrame, tparams: TrajectoryParams, as_of: dt.date | None, out: str | Path) -> None:
    """Cohort attrition and re-arrest, written to attrition.json and printed (the
    `attrition` command and the demo's step 2)."""
    from tipdrift.attrition import AttritionFitter, RearrestFitter

    fit = AttritionFitter(horizon_months=tparams.horizon_months, by=tparams.by or None, as_of=as_of).fit(traj)
    re = RearrestFitter(horizon_months=tparams.horizon_months, as_of=as_of,
                        from_release=tparams.rearrest_from == "release").fit(traj)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({**fit.to_dict(), "rearrest": re.to_dict()}, indent=1) + "\n")
    _print_attrition(fit, re)


def cmd_attrition(args: argparse.Namespace) -> int:
    from tipdrift.timeutil import parse_date

    tparams = TrajectoryParams.from_dict({"horizon_months": args.horizon_months, "by": args.by or "",
                                          "rearrest_from": args.rearrest_from})
    traj = _read_trajectories(args.trajectories)
    as_of = parse_date(args.as_of, "--as-of") or _linked_as_of(args.trajectories)
    attrition_step(traj, tparams, as_of, args.out)
    print(f"-> {args.out}")
    return 1 if as_of is None and _warn_outlying_dates(traj, args.trajectories) else 0


def _linked_as_of(trajectories: str) -> dt.date | None:
    """The extract date the link step was given (--as-of or the mapping's), from the
    summary.json beside the trajectories; None when it was not given."""
    summary = Path(trajectories).with_name("summary.json")
    try:
        value = json.loads(summary.read_text(encoding="utf-8")).get("as_of")
    except (OSError, ValueError):
        return None
    if value:
        print(f"as of {value}: the extract date given to the link step ({summary})")
    return dt.date.fromisoformat(value) if value else None


def _warn_outlying_dates(traj: pl.DataFrame, source: str) -> bool:
    """Without --as-of the latest date is "now": print dates that stand far beyond the rest."""
    from tipdrift.checks import outlier_lines

    lines = [line for col, idc in (("arrest_date", "arrest_id"), ("filing_date", "prosecution_id"),
                                   ("disposition_date", "disposition_id"))
             for line in outlier_lines(traj, col, source, idc)]
    for line in lines:
        print(line, file=sys.stderr)
    return bool(lines)


def _read_trajectories(path: str) -> pl.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), "file not found (run `tipdrift link` first)")
    try:
        traj = pl.read_parquet(p)
    except Exception as exc:  # polars raises several kinds for a non-Parquet file
        raise InputFileError(str(p), f"not a trajectories Parquet file: {str(exc).splitlines()[0]}") from None
    from tipdrift.link import TRAJECTORY_COLUMNS

    missing = [c for c in TRAJECTORY_COLUMNS if c not in traj.columns]
    if missing:
        raise InputFileError(str(p), "not a trajectories file from `tipdrift link`", column=missing[0])
    return traj


def _print_attrition(fit, re) -> None:  # noqa: ANN001 (fitters)
    print(f"Attrition of arrest cohorts within {fit.horizon_months:g} months (as of {fit.as_of_}; competing outcomes, "
          f"open cases censored; provisional = less follow-up than the horizon)")
    with pl.Config(tbl_rows=200, tbl_cols=-1, tbl_width_chars=250, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(fit.table())
        print(fit.uncertainty_)
        if fit.imprecise_:
            print(fit.imprecise_["note"])
        print(f"Re-arrest within {re.horizon_months:g} months of {'release' if re.from_release else 'conviction'}, "
              f"by sentence length (arrests table covers until {re.arrests_cover_until_})")
        if not re.observed_:
            print("no re-arrest observed: the arrests table may not cover later arrests (rearrest_observed: false)")
        print(re.table_)


def quality_step(sources: list[str], mapping: str | None, as_of: str | None, freq: str, out: str | Path,
                 html_out: str | Path | None = None, small_cell: int = 5) -> dict[str, Any]:
    """Profile each source (KIND=PATH, or a PATH whose kind its columns tell), write
    quality.json (and an HTML page), print the scores (the `quality` command and the demo)."""
    from tipdrift.drift import write_json
    from tipdrift.load import load_table
    from tipdrift.pages import page, quality_html, write_vega_asset
    from tipdrift.quality import profile_source, quality_document
    from tipdrift.timeutil import parse_date

    profiles, unmapped = [], False
    for spec in sources:
        kind, path = _source_kind(spec, mapping)
        loaded = load_table(kind, path, mapping=mapping, as_of=as_of)
        unmapped |= _report_unmapped(loaded.summary)
        profiles.append(profile_source(loaded, as_of=parse_date(as_of) or dt.date.fromisoformat(loaded.summary["as_of"]),
                                       freq=freq))
    doc = quality_document(profiles)
    doc["unmapped_labels"] = unmapped
    write_json(doc, out)
    with pl.Config(tbl_rows=50, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(pl.DataFrame([{"source": f"{Path(p.source).name} ({p.kind})", **p.scores} for p in profiles]))
    for p in profiles:
        for n in p.notes:
            print(f"note: {Path(p.source).name}: {n}")
    if html_out:
        Path(html_out).parent.mkdir(parents=True, exist_ok=True)
        Path(html_out).write_text(page("tipdrift data quality", quality_html(doc, small_cell, heading="h1")),
                                  encoding="utf-8")
        write_vega_asset(Path(html_out).parent)
    return doc


def _source_kind(spec: str, mapping: str | None) -> tuple[str, str]:
    """KIND=PATH, or PATH: its kind from its file name (arrests.csv) or its id column."""
    from tipdrift.schema import SPECS

    if "=" in spec and spec.split("=", 1)[0] in SPECS:
        kind, path = spec.split("=", 1)
        return kind, path
    stem = Path(spec).stem
    if stem in SPECS:
        return stem, spec
    from tipdrift.drift import infer_kind
    from tipdrift.mapping import Mapping

    return infer_kind(spec, Mapping.from_yaml(mapping) if mapping else None), spec


def cmd_quality(args: argparse.Namespace) -> int:
    doc = quality_step(args.sources, args.mapping, args.as_of, args.freq, args.out, args.html)
    print(f"-> {args.out}" + (f" and {args.html}" if args.html else ""))
    return 1 if doc["unmapped_labels"] else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tipdrift.testing.evaluate import evaluate_probabilistic, evaluate_world

    if args.match == "probabilistic":
        result = evaluate_probabilistic(seed=args.seed, scale=args.scale, tokens=args.tokens,
                                        references=not args.no_references)
    elif args.tokens or args.no_references:
        raise ParameterError("--tokens and --no-references need --match probabilistic")
    else:
        result = evaluate_world(seed=args.seed, scale=args.scale, margin=args.margin)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tipdrift.params import resolve_report_params
    from tipdrift.report import parse_param_args, run_all_units, run_report

    params = resolve_report_params(args.kind, parse_param_args(args.param or [], args.params_file))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.all_units:
        index = run_all_units(args.kind, params, out, notebooks=args.notebooks, workers=args.workers,
                              keep_notebooks=args.keep_notebooks)
        print(f"reports: {index}")
    else:
        name = f"{args.kind}_{params['unit'] or 'all'}".replace("(", "").replace(")", "")
        page = run_report(args.kind, params, out / f"{name}.html", notebooks=args.notebooks,
                          keep_notebooks=args.keep_notebooks)
        print(f"report: {page}")
    return 0


def _demo_load(data: Path, context: Path, out: Path, as_of: str) -> dict[str, Any]:
    """Step 1: every table loaded and reconciled, and the messy example read through its mapping."""
    from tipdrift.load import load_table

    loaded = {}
    for kind in TABLE_FILES:
        res = load_table(kind, find_table(data, kind), as_of=as_of)
        _print_load_summary(res.summary)
        loaded[kind] = res
    for f in sorted(context.glob("*.csv")):
        _print_load_summary(load_table("context", f, as_of=as_of).summary)
    example = Path("data/examples/arrests_source.csv")
    if example.is_file():
        print("\n   a source with its own columns, labels and date format, read through a mapping:")
        res = load_table("arrests", example, mapping=example.with_name("arrests_mapping.yaml"), as_of=as_of)
        _print_load_summary(res.summary)
        for col, labels in res.summary["unmapped_labels"].items():
            print(f"   unmapped labels in '{col}' (rows rejected, add them to the mapping): "
                  + ", ".join(f"'{k}' ({v})" for k, v in labels.items()))
        res.rejected.write_csv(out / "rejected_example.csv")
        print(f"   rejected rows with file, row, column and reason -> {out / 'rejected_example.csv'}")
    cases, arrests = loaded["cases"].accepted, loaded["arrests"].accepted
    print(f"\n{cases.height} case records from {cases['org_id'].n_unique()} organisations, "
          f"{cases['opened_date'].min()} to {cases['opened_date'].max()}")
    print(f"{arrests.height} arrests of {arrests['person_id'].n_unique()} persons in "
          f"{arrests['jurisdiction'].n_unique()} jurisdictions, {arrests['arrest_date'].min()} to {arrests['arrest_date'].max()}")
    return loaded


def _demo_reports(data: Path, context: str, reports: Path, as_of: str) -> None:
    """Step 5: one drift report per unit with an index, and the all-jurisdiction trajectory report."""
    from tipdrift.report import run_all_units, run_report

    index = run_all_units("drift", {"data_dir": str(data), "context_dir": context, "as_of": as_of}, reports, workers=2)
    traj_page = run_report("trajectories", {"data_dir": str(data), "as_of": as_of},
                           reports / "trajectories" / "trajectories_all.html")
    print(f"\nOpen {index.resolve()} (drift reports by unit) and {traj_page.resolve()}")


def _demo_ctdc(out: Path) -> None:
    """Step 3b: the CTDC-layout sample read through its mapping alone, by citizenship and year."""
    ctdc = Path("data/examples/ctdc")
    if not (ctdc / "sample.csv").is_file():
        print(f"\n-- 3b. skipped: {ctdc}/sample.csv not found (run the demo from the repository's root)")
        return
    print("\n-- 3b. a source in the CTDC global-dataset layout (year only, flag columns, no record id, "
          "k-anonymised copies), read through its mapping alone")
    drift_step(ctdc / "sample.csv", DriftParams(freq="year"), out / "ctdc_shifts.json", mapping=ctdc / "mapping.yaml",
               unit="citizenship")


def _demo_persons(out: Path, tparams: TrajectoryParams) -> None:
    """Step 2b: three agencies' files with no shared person id and no record references,
    linked through persons resolved from names and birth dates, and scored against the
    example's truth."""
    from tipdrift.load import load_table
    from tipdrift.testing.evaluate import evaluate_linkage

    example = Path("data/examples/persons")
    if not (example / "arrests.csv").is_file():
        print(f"\n-- 2b. skipped: {example}/arrests.csv not found (run the demo from the repository's root)")
        return
    print("\n-- 2b. a keyless, name-only source: three agencies' files (data/examples/persons) that share no person "
          "id and name no other record; persons resolved from names and birth dates (--match probabilistic)")
    truth = json.loads((example / "truth.json").read_text())
    loads = {k: load_table(k, example / f"{k}.csv", as_of=truth["as_of"], optional=("person_id",))
             for k in ("arrests", "prosecutions", "dispositions")}
    res = link_step(loads, tparams, out / "link_persons", as_of=truth["as_of"], match="probabilistic")
    for name, v in evaluate_linkage(res.trajectories, truth).items():
        print(f"   against the example's truth: {name.replace('_', ' -> ')} precision {v['precision']:.3f}, "
              f"recall {v['recall']:.3f}")


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole job, through the same steps the individual commands run."""
    from tipdrift.review import format_review, review

    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"== tipdrift demo on {data} (outputs in {out})\n")
    print("-- 1. load and validate")
    loaded = _demo_load(data, Path(args.context), out, args.as_of)
    print("\n-- 1b. data quality of each source (seven criteria, 0-10; formulas in README)")
    quality_step([str(find_table(data, k)) for k in TABLE_FILES], None, args.as_of, "year", out / "quality.json",
                 out / "quality.html")
    print(f"-> {out / 'quality.json'} and {out / 'quality.html'}")
    print("\n-- 2. link: arrests -> prosecutions -> court outcomes, and cohort attrition")
    tparams = TrajectoryParams()
    linked = link_step({k: loaded[k] for k in ("arrests", "prosecutions", "dispositions")}, tparams, out / "link")
    attrition_step(linked.trajectories, tparams, dt.date.fromisoformat(args.as_of), out / "attrition.json")
    _demo_persons(out, tparams)
    print("\n-- 3. drift: change points in each organisation's case-type mix (and the pooled series)")
    run = drift_step(find_table(data, "cases"), DriftParams(pooled=True), out / "shifts.json", context=args.context,
                     as_of=args.as_of)
    _demo_ctdc(out)
    print("\n-- 4. review: every shift with its recorded context")
    print(format_review(review(run.shifts, None, len(run.without_shift))))
    if not args.no_reports:
        print("\n-- 5. reports: one drift report per unit (papermill + nbconvert, offline HTML)")
        _demo_reports(data, args.context, Path(args.reports), args.as_of)
    return 0


# ---------------------------------------------------------------- parser

DRIFT_FLAGS = ("freq", "penalty", "min_size", "alpha", "n_boot", "max_boot", "seed", "pooled", "reporting_lag", "volume",
               "min_effect", "dependence", "dependence_rho", "workers")


def _add_synth(sub: Any) -> None:
    s = sub.add_parser("synth", help="write synthetic data with known truth (truth.json)")
    s.add_argument("out_dir", help="folder for the tables and truth.json")
    s.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    s.add_argument("--scale", type=float, default=1.0, help="multiplies arrests and organisations (default 1)")
    s.add_argument("--context-dir", default=None, help="folder for the context log (default OUT_DIR/context_log)")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="table file format")
    s.add_argument("--no-truth-links", action="store_true", help="leave the (large) link lists out of truth.json")
    s.set_defaults(func=cmd_synth)


def _share(text: str) -> float:
    """An argparse type: a share between 0 and 1 (argparse turns the error into exit 2)."""
    try:
        return check_share(float(text))
    except (ValueError, ParameterError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, ParameterError) else f"'{text}' is not a number") \
            from None


def _add_max_rejected(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-rejected", type=_share, default=DEFAULT_MAX_REJECTED, metavar="SHARE",
                   help=f"stop (exit 1) when a source has a larger share of rows rejected (default {DEFAULT_MAX_REJECTED})")


def _add_validate(sub: Any) -> None:
    v = sub.add_parser("validate", help="load one table, report accepted and rejected rows")
    v.add_argument("table_kind", choices=("arrests", "prosecutions", "dispositions", "cases", "context"))
    v.add_argument("path", help="CSV, Parquet or .xlsx file")
    v.add_argument("--mapping", default=None, help="YAML mapping of source columns and labels")
    v.add_argument("--rejected", default=None, help="write the rejected rows to this CSV")
    v.add_argument("--unit", default=None, metavar="COLUMN",
                   help="the unit column a drift run uses, when not the kind's default (which then need not exist)")
    v.add_argument("--as-of", default=None, help="extract date; later dates are rejected (default today)")
    v.set_defaults(func=cmd_validate)


def cmd_pseudonymise(args: argparse.Namespace) -> int:
    """One agency's table with names and birth dates replaced by keyed tokens (CSV)."""
    from tipdrift.load import load_table
    from tipdrift.pseudonymise import pseudonymise, read_key, shareable

    key = read_key(args.key_file)
    loaded = load_table(args.table_kind, args.path, mapping=args.mapping, as_of=args.as_of,
                        optional=("person_id",))
    if not any(c in loaded.accepted.columns and loaded.accepted.get_column(c).is_not_null().any()
               for c in ("first_name", "last_name", "birth_date")):
        raise ParameterError(f"{args.path}: no first_name, last_name or birth_date to pseudonymise")
    out = shareable(pseudonymise(loaded.accepted, key))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.write_csv(args.out)
    s = loaded.summary
    print(f"{args.path}: {s['rows']} rows, {out.height} written with tokens to {args.out}, {s['rejected']} rejected "
          f"(reasons: {', '.join(f'{k}={v}' for k, v in s['reasons'].items()) or 'none'})")
    if loaded.rejected.height and args.rejected:
        loaded.rejected.write_csv(args.rejected)
    return 1 if loaded.rejected.height else 0


def _add_pseudonymise(sub: Any) -> None:
    ps = sub.add_parser("pseudonymise", help="replace names and birth dates by keyed tokens (HMAC-SHA256) for sharing")
    ps.add_argument("table_kind", choices=("arrests", "prosecutions", "dispositions"))
    ps.add_argument("path", help="CSV, Parquet or .xlsx file with first_name, last_name, birth_date")
    ps.add_argument("--key-file", required=True, help="the key every agency holds (at least 16 random bytes)")
    ps.add_argument("--out", required=True, help="CSV to write: the table with tokens instead of names")
    ps.add_argument("--mapping", default=None, help="YAML mapping of source columns and labels")
    ps.add_argument("--as-of", default=None, help="extract date; later dates are rejected (default today)")
    ps.add_argument("--rejected", default=None, help="write the rejected rows to this CSV")
    ps.set_defaults(func=cmd_pseudonymise)


def _add_drift(sub: Any) -> None:
    d = DriftParams()
    dr = sub.add_parser("drift", help="detect shifts in the case-type mix (and volume) of each unit -> shifts.json")
    dr.add_argument("table", help="cases, arrests or prosecutions table (CSV, Parquet, .xlsx)")
    dr.add_argument("--kind", choices=("cases", "arrests", "prosecutions"), default=None, help="table kind (default: from its id column)")
    dr.add_argument("--unit", default=None, help="unit column, any column of the table (default org_id for cases, "
                                                  "jurisdiction otherwise)")
    dr.add_argument("--date", default=None, help="event date column (default opened_date / arrest_date / filing_date)")
    dr.add_argument("--category", default="case_type", help="category column (default case_type)")
    dr.add_argument("--freq", choices=FREQS, default=d.freq)
    dr.add_argument("--penalty", default=d.penalty, help=f"bic, mbic or a positive number (default {d.penalty})")
    dr.add_argument("--min-size", type=int, default=d.min_size,
                    help="minimum segment length in periods (default: by --freq, month 6, quarter 3, year 3)")
    dr.add_argument("--min-effect", type=float, default=d.min_effect,
                    help="report only mix shifts whose lower 95%% TVD bound reaches this (default 0)")
    dr.add_argument("--no-dependence", dest="dependence", action="store_false",
                    help="treat periods as independent (default: estimate and simulate serial dependence)")
    dr.add_argument("--dependence", dest="dependence_rho", type=float, default=None, metavar="RHO",
                    help="the serial dependence of the run's series, as a latent AR(1) coefficient in [0, 0.95], "
                         "from a longer history or a peer series (default: pooled over the run's series; with fewer "
                         "than 8, each series' own upper bound; 0: each series' own estimate)")
    dr.add_argument("--alpha", type=float, default=d.alpha, help=f"level for the BH-adjusted p-value (default {d.alpha})")
    dr.add_argument("--n-boot", type=int, default=d.n_boot, help=f"bootstrap replicates (default {d.n_boot})")
    dr.add_argument("--max-boot", type=int, default=d.max_boot, help=f"replicates for p-values stuck at the floor (default {d.max_boot})")
    dr.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    dr.add_argument("--workers", type=int, default=d.workers, metavar="N",
                    help="threads over series (default 0: one per core); the results do not depend on it")
    dr.add_argument("--pooled", action="store_true", help="also analyse the all-units series and decompose its shifts")
    dr.add_argument("--context", default=None, help="context log folder or file: annotate shifts with events")
    dr.add_argument("--as-of", default=None, help="extract date (default: the mapping's as_of, else the latest date in the table)")
    dr.add_argument("--reporting-lag", type=int, default=d.reporting_lag, help="periods before as-of still incomplete, excluded (default 0)")
    dr.add_argument("--mapping", default=None, help="YAML mapping of source columns and labels")
    dr.add_argument("--no-volume", dest="volume", action="store_false", help="skip volume (total cases) shifts")
    _add_max_rejected(dr)
    dr.add_argument("--out", required=True, help="shifts.json to write")
    dr.set_defaults(func=cmd_drift)


def _add_review(sub: Any) -> None:
    rv = sub.add_parser("review", help="one line per shift with its status and context; --strict gates on unexplained")
    rv.add_argument("shifts", help="shifts.json from `tipdrift drift`")
    rv.add_argument("--acknowledged", default=None, help="reviews.csv: unit, period, reviewer, note")
    rv.add_argument("--strict", action="store_true", help="exit 1 if any shift is unexplained and not acknowledged")
    rv.add_argument("--format", choices=("text", "json"), default="text")
    rv.set_defaults(func=cmd_review)


def _add_link_attrition(sub: Any) -> None:
    t = TrajectoryParams()
    lk = sub.add_parser("link", help="link arrests, prosecutions and dispositions into defendant-case trajectories")
    lk.add_argument("--arrests", required=True)
    lk.add_argument("--prosecutions", required=True)
    lk.add_argument("--dispositions", required=True)
    lk.add_argument("--out", required=True, help="folder for trajectories.parquet, rejected.csv, summary.json")
    lk.add_argument("--mapping", default=None, help="YAML mapping (top level, or one section per table under tables:)")
    lk.add_argument("--window-months", type=float, default=t.window_months, help=f"arrest<->filing window, both ways (default {t.window_months:g})")
    lk.add_argument("--disposition-window-months", type=float, default=t.disposition_window_months,
                    help=f"filing->disposition window (default {t.disposition_window_months:g})")
    lk.add_argument("--as-of", default=None, help="extract date; later dates are rejected (default today)")
    lk.add_argument("--match", choices=("key", "probabilistic"), default="key",
                    help="key: shared person ids; probabilistic: resolve persons from first_name, last_name, "
                         "birth_date, gender (Splink) when the tables share no person id")
    lk.add_argument("--match-threshold", type=float, default=None,
                    help="match probability at which records are one person (default 0.3: see README)")
    lk.add_argument("--model", default=None, help="a linkage_model.json from an earlier run, reused as is")
    lk.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb",
                    help="where persons are resolved: embedded DuckDB (default) or Spark (pip install "
                         "'tipdrift[spark]', Java 17+; see README for when it pays)")
    lk.add_argument("--spark-master", default="local[*]",
                    help="with --backend spark: the cluster to run on, e.g. spark://host:7077 (default local[*])")
    _add_max_rejected(lk)
    lk.set_defaults(func=cmd_link)
    at = sub.add_parser("attrition", help="cohort attrition with competing outcomes and censoring -> attrition.json")
    at.add_argument("trajectories", help="trajectories.parquet from `tipdrift link`")
    at.add_argument("--horizon-months", type=float, default=t.horizon_months)
    at.add_argument("--by", default=None, help="group column, e.g. case_type or jurisdiction")
    at.add_argument("--as-of", default=None, help="censoring date (default: latest date in the data)")
    at.add_argument("--rearrest-from", choices=OUTCOME_ORIGINS, default=t.rearrest_from)
    at.add_argument("--out", required=True, help="attrition.json to write")
    at.set_defaults(func=cmd_attrition)


def _add_quality(sub: Any) -> None:
    q = sub.add_parser("quality", help="a data-quality profile per source, scored 0-10 on seven criteria -> quality.json")
    q.add_argument("sources", nargs="+", metavar="SOURCE", help="KIND=PATH (e.g. cases=data/x.csv), or a PATH whose "
                                                                "file name or id column tells the kind")
    q.add_argument("--mapping", default=None, help="YAML mapping of the sources' layout")
    q.add_argument("--as-of", default=None, help="extract date (default: the mapping's as_of, else today)")
    q.add_argument("--freq", choices=FREQS, default="year", help="period of the per-period profile (default year)")
    q.add_argument("--html", default=None, help="also write an HTML page with the heat map and charts")
    q.add_argument("--out", required=True, help="quality.json to write")
    q.set_defaults(func=cmd_quality)


def _add_evaluate_report_demo(sub: Any) -> None:
    ev = sub.add_parser("evaluate", help="generate a synthetic world and score linkage, attrition and drift against its truth")
    ev.add_argument("--seed", type=int, default=2024)
    ev.add_argument("--scale", type=float, default=10.0, help="world size (1 = 24 organisations, 20,000 arrests)")
    ev.add_argument("--margin", type=int, default=3, help="detection margin in months (default 3)")
    ev.add_argument("--match", choices=("key", "probabilistic"), default="key",
                    help="probabilistic: the tables re-issued by three agencies with no shared person id and noisy "
                         "names; persons resolved, links and attrition scored (drift is not re-scored)")
    ev.add_argument("--tokens", action="store_true", help="with --match probabilistic: resolve on pseudonymised tokens")
    ev.add_argument("--no-references", action="store_true",
                    help="with --match probabilistic: no record names another (filings lose their arrest ids, "
                         "outcomes their filing ids): only persons and dates link")
    ev.add_argument("--out", default=None, help="also write the figures to this JSON file")
    ev.set_defaults(func=cmd_evaluate)
    rp = sub.add_parser("report", help="run a report notebook with papermill and render offline HTML")
    rp.add_argument("kind", choices=REPORT_KINDS)
    rp.add_argument("--param", action="append", metavar="KEY=VALUE", help="a notebook parameter (repeatable)")
    rp.add_argument("--params-file", default=None, help="YAML file of parameters (--param wins)")
    rp.add_argument("--all-units", action="store_true", help="one report per unit (drift) or jurisdiction, and index.html")
    rp.add_argument("--workers", type=int, default=2, help="worker processes for --all-units (default 2)")
    rp.add_argument("--notebooks", default=None, help="folder of the report notebooks (default: the repository's notebooks/)")
    rp.add_argument("--keep-notebooks", action="store_true", help="keep the executed notebooks in OUT/_executed")
    rp.add_argument("--out", default="reports", help="output folder (default reports/)")
    rp.set_defaults(func=cmd_report)
    d = sub.add_parser("demo", help="run the main job on the embedded synthetic data")
    d.add_argument("--data", default="data/synthetic", help="folder with arrests, prosecutions, dispositions, cases")
    d.add_argument("--context", default="context_log", help="folder of context-log CSV files")
    d.add_argument("--out", default="out", help="folder for outputs")
    d.add_argument("--as-of", default="2024-12-31", help="extract date of the data (default 2024-12-31)")
    d.add_argument("--no-reports", action="store_true", help="skip the HTML reports (faster)")
    d.add_argument("--reports", default="reports", help="folder for the HTML reports (default reports/)")
    d.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    from tipdrift import __version__

    p = argparse.ArgumentParser(prog="tipdrift", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"tipdrift {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_synth, _add_validate, _add_drift, _add_review, _add_link_attrition, _add_pseudonymise, _add_quality,
                _add_evaluate_report_demo):
        add(sub)
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
    except (ReportError, DataError) as exc:
        print(f"tipdrift: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
