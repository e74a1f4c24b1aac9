"""Parameterised reports: papermill executes a notebook, nbconvert renders it to HTML.

The page is self-contained and offline: nbconvert's `basic` template (no CDN scripts)
wrapped in a page with inline CSS; charts are static SVG (tipdrift.charts). Every report
carries its provenance (tipdrift version, parameters, sha256 and rows of every input,
as-of date); re-running with the same inputs and parameters gives the same content, and
only the generation time in the footer differs.

`run_all_units` runs one report per unit in worker processes and writes index.html.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tipdrift.errors import InputFileError, ParameterError

REPORTS = {"drift": "drift_report.ipynb", "trajectories": "trajectory_report.ipynb"}
DEFAULTS: dict[str, dict[str, Any]] = {
    "drift": {"data_dir": "data/synthetic", "table": "cases.parquet", "context_dir": "context_log",
              "shifts_path": "", "unit": "(pooled)", "start": "", "end": "", "freq": "month", "penalty": "mbic",
              "min_size": 6, "alpha": 0.05, "n_boot": 199, "seed": 0, "as_of": "", "small_cell": 5},
    "trajectories": {"data_dir": "data/synthetic", "trajectories_path": "", "unit": "", "start": "", "end": "",
                     "horizon_months": 24, "by": "case_type", "as_of": "", "small_cell": 5},
}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#212529}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #dee2e6;padding:.25em .6em;text-align:left}
th{background:#f1f3f5}.tipdrift-chart{margin:1em 0;overflow-x:auto}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}
.provenance{font-size:.85em;color:#495057}footer{margin-top:3em;font-size:.8em;color:#868e96}
.jp-OutputPrompt,.jp-InputPrompt,.anchor-link{display:none}pre{white-space:pre-wrap}
"""


def notebooks_dir() -> Path:
    """The repository's notebooks/ folder (the package is installed in development mode)."""
    here = Path(__file__).resolve().parents[1] / "notebooks"
    if not here.is_dir():
        raise InputFileError(str(here), "report notebooks not found; pass --notebooks DIR")
    return here


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return str(value).lower() in ("1", "true", "yes")
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return "" if value is None else str(value)


def resolve_params(kind: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults overlaid with the given values (typed like the defaults; unknown keys rejected)."""
    if kind not in DEFAULTS:
        raise ParameterError(f"report must be one of {', '.join(DEFAULTS)}, not '{kind}'")
    params = dict(DEFAULTS[kind])
    for k, v in (given or {}).items():
        if k not in params:
            raise ParameterError(f"unknown parameter '{k}' for the {kind} report; known: {', '.join(params)}")
        try:
            params[k] = _coerce(v, DEFAULTS[kind][k])
        except ValueError:
            raise ParameterError(f"parameter '{k}': '{v}' is not a {type(DEFAULTS[kind][k]).__name__}") from None
    return params


def parse_param_args(pairs: list[str], params_file: str | None = None) -> dict[str, Any]:
    """`key=value` pairs and an optional YAML file (the pairs win)."""
    out: dict[str, Any] = {}
    if params_file:
        import yaml

        p = Path(params_file)
        if not p.is_file():
            raise InputFileError(str(p), "params file not found")
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise InputFileError(str(p), "params file must be a mapping of name: value")
        out.update(data)
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"--param takes key=value, not '{pair}'")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def validate_drift_params(p: dict[str, Any], units: list[str]) -> None:
    """Checks a notebook runs first, so a bad value stops with one clear message."""
    if p["unit"] not in units:
        raise ParameterError(f"unknown unit '{p['unit']}'; units in the data: {', '.join(units)}")
    _check_dates(p)
    if p["freq"] not in ("month", "quarter", "year"):
        raise ParameterError(f"freq must be month, quarter or year, not '{p['freq']}'")
    if p["small_cell"] < 1:
        raise ParameterError("small_cell must be at least 1")


def validate_trajectory_params(p: dict[str, Any], units: list[str]) -> None:
    if p["unit"] and p["unit"] not in units:
        raise ParameterError(f"unknown jurisdiction '{p['unit']}'; jurisdictions in the data: {', '.join(units)}")
    _check_dates(p)
    if p["horizon_months"] <= 0:
        raise ParameterError("horizon_months must be positive")
    if p["small_cell"] < 1:
        raise ParameterError("small_cell must be at least 1")


def _check_dates(p: dict[str, Any]) -> None:
    parsed = {}
    for k in ("start", "end", "as_of"):
        if p.get(k):
            try:
                parsed[k] = dt.date.fromisoformat(p[k])
            except ValueError:
                raise ParameterError(f"{k}: '{p[k]}' is not an ISO date (YYYY-MM-DD)") from None
    if "start" in parsed and "end" in parsed and parsed["start"] > parsed["end"]:
        raise ParameterError(f"bad date range: start {p['start']} is after end {p['end']}")


def render_html(nb: Any, title: str) -> str:
    """Executed notebook -> one self-contained page (outputs only, no CDN scripts)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    for i, cell in enumerate(nb.cells):  # papermill's injected cell has a random id: keep pages reproducible
        cell["id"] = f"cell-{i}"
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"<script[^>]*src=[^>]*></script>", "", body)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}<footer>Generated {stamp} by tipdrift. "
            f"Synthetic or aggregated figures only; counts below the small-cell threshold are shown as &lt;n.</footer>"
            f"</body></html>")


def run_report(kind: str, params: dict[str, Any], out_html: str | Path, notebooks: str | Path | None = None) -> Path:
    """Execute the `kind` notebook with `params` and write its HTML page."""
    import papermill as pm

    params = resolve_params(kind, params)
    nb_dir = Path(notebooks) if notebooks else notebooks_dir()
    source = nb_dir / REPORTS[kind]
    if not source.is_file():
        raise InputFileError(str(source), "report notebook not found")
    for k in ("data_dir", "context_dir", "shifts_path", "trajectories_path"):
        if params.get(k):
            params[k] = str(Path(params[k]).resolve())
    out_html = Path(out_html)
    work = out_html.parent / "_executed"
    work.mkdir(parents=True, exist_ok=True)
    executed = work / (out_html.stem + ".ipynb")
    try:
        nb = pm.execute_notebook(str(source), str(executed), parameters=params, kernel_name="python3",
                                 cwd=str(nb_dir), progress_bar=False, log_output=False,
                                 # kernels on loopback TCP, each with its own ports (IPC socket paths can
                                 # collide between concurrent workers); only the kernel's own warnings are
                                 # silenced (it warns that loopback TCP is unencrypted), errors still show
                                 extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except pm.PapermillExecutionError as exc:
        first = (str(exc.evalue).strip().splitlines() or [""])[0]
        raise ParameterError(f"{kind} report ({out_html.name}): {exc.ename}: {first}") from None
    title = f"tipdrift {kind} report" + (f": {params['unit']}" if params.get("unit") else "")
    out_html.write_text(render_html(nb, title), encoding="utf-8")
    return out_html


def _slug(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", unit).strip("_") or "unit"


def _one(args: tuple[str, dict[str, Any], str, str | None]) -> tuple[str, str]:
    kind, params, out, notebooks = args
    run_report(kind, params, out, notebooks)
    return params["unit"], out


def run_all_units(kind: str, params: dict[str, Any], out_dir: str | Path, notebooks: str | Path | None = None,
                  workers: int = 2, progress: bool = True) -> Path:
    """One report per unit in worker processes, and index.html linking them."""
    from tipdrift.drift import run_drift, write_json

    params = resolve_params(kind, params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(params["data_dir"])
    summary: dict[str, dict[str, Any]] = {}
    if kind == "drift":
        # Detection runs once, over all units; each page reads the same shifts.json.
        doc, _ = run_drift(data / params["table"], pooled=True,
                           context=params["context_dir"] or None, freq=params["freq"], penalty=params["penalty"],
                           min_size=params["min_size"], alpha=params["alpha"], n_boot=params["n_boot"],
                           seed=params["seed"], as_of=params["as_of"] or None)
        shifts_path = out / "shifts.json"
        write_json(doc, shifts_path)
        params["shifts_path"] = str(shifts_path.resolve())
        units = [s["unit"] for s in doc["series"]]
        for u in units:
            mine = [s for s in doc["shifts"] if s["unit"] == u]
            summary[u] = {"shifts": len(mine), "statuses": dict(sorted(
                {st: sum(1 for s in mine if s["status"] == st) for st in {s["status"] for s in mine}}.items()))}
    else:
        # Linkage runs once, over all records; each page reads the same trajectories.
        from tipdrift.link import link_files
        from tipdrift.load import find_table

        res = link_files(*(find_table(data, k) for k in ("arrests", "prosecutions", "dispositions")),
                         as_of=params["as_of"] or dt.date.today().isoformat())
        shared = res.write(out / "_linked")
        params["trajectories_path"] = str(Path(shared["trajectories"]).resolve())
        units = sorted(res.trajectories.get_column("jurisdiction").drop_nulls().unique().to_list())
        summary = {u: {} for u in units}
    jobs = [(kind, {**params, "unit": u}, str(out / f"{kind}_{_slug(u)}.html"), str(notebooks) if notebooks else None)
            for u in units]
    done: dict[str, str] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"{kind} reports", unit="report")
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for fut in as_completed([pool.submit(_one, j) for j in jobs]):
            unit, path = fut.result()
            done[unit] = path
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    index = out / "index.html"
    index.write_text(_index_html(kind, units, done, summary, params), encoding="utf-8")
    (out / "index.json").write_text(json.dumps({"kind": kind, "units": {u: {"report": Path(done[u]).name, **summary[u]}
                                                                         for u in units}}, indent=1) + "\n")
    return index


def _index_html(kind: str, units: list[str], done: dict[str, str], summary: dict[str, dict[str, Any]],
                params: dict[str, Any]) -> str:
    rows = []
    for u in units:
        s = summary.get(u, {})
        statuses = ", ".join(f"{k} {v}" for k, v in s.get("statuses", {}).items()) or ("none" if kind == "drift" else "")
        cells = f"<td>{s['shifts']}</td><td>{html.escape(statuses)}</td>" if kind == "drift" else ""
        rows.append(f"<tr><td><a href=\"{html.escape(Path(done[u]).name)}\">{html.escape(u)}</a></td>{cells}</tr>")
    head = "<th>unit</th><th>shifts</th><th>statuses</th>" if kind == "drift" else "<th>jurisdiction</th>"
    shown = {k: (Path(v).name if k in ("data_dir", "context_dir") and v else v)
             for k, v in params.items() if k not in ("unit", "shifts_path", "trajectories_path")}
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tipdrift {kind} reports</title>"
            f"<style>{CSS}</style></head><body><h1>tipdrift {kind} reports</h1>"
            f"<p class=\"provenance\">Parameters: {html.escape(json.dumps(shown))}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>")
