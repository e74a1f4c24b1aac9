"""Parameterised reports: papermill executes a notebook, nbconvert renders it to HTML.

This module executes and renders only. Parameters and their defaults are in
`tipdrift.params`, the jobs the notebooks run in `tipdrift.jobs`, the page HTML in
`tipdrift.pages`. A report folder holds only what is meant to be shared: the pages,
index.html/index.json and shifts.json (aggregates). Person-level intermediates (the
linked trajectories) and the shared drift run live in a private temporary folder that is
removed afterwards; executed notebooks are kept only with `keep_notebooks`.

A notebook that fails on a bad parameter raises `ParameterError` (exit 2); any other
failure raises `ReportError` naming the cell and the error (exit 1).
"""
from __future__ import annotations

import json
import multiprocessing
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tipdrift.errors import DataError, InputFileError, ParameterError, ReportError
from tipdrift.pages import PATH_PARAMS, index_html, page, write_vega_asset
from tipdrift.params import read_yaml_mapping, resolve_report_params

REPORTS = {"drift": "drift_report.ipynb", "trajectories": "trajectory_report.ipynb"}


def notebooks_dir() -> Path:
    """The repository's notebooks/ folder (the package is installed in development mode)."""
    here = Path(__file__).resolve().parents[1] / "notebooks"
    if not here.is_dir():
        raise InputFileError(str(here), "report notebooks not found; pass --notebooks DIR")
    return here


def parse_param_args(pairs: list[str], params_file: str | None = None) -> dict[str, Any]:
    """`key=value` pairs and an optional YAML file (the pairs win)."""
    out: dict[str, Any] = dict(read_yaml_mapping(params_file)) if params_file else {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"--param takes key=value, not '{pair}'")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def render_html(nb: Any, title: str, data: str = "", small_cell: int = 5) -> str:
    """Executed notebook -> one self-contained page (outputs only, no CDN scripts)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    for i, cell in enumerate(nb.cells):  # papermill's injected cell has a random id: keep pages reproducible
        cell["id"] = f"cell-{i}"
    body, _ = exporter.from_notebook_node(nb)
    return page(title, re.sub(r"<script[^>]*src=[^>]*></script>", "", body), data, small_cell)


def _failure(kind: str, name: str, exc: Any) -> Exception:
    """A papermill failure as the error a user should see: their parameter, or our bug."""
    first = (str(exc.evalue).strip().splitlines() or [""])[0]
    if exc.ename in ("ParameterError", "InputFileError"):
        return ParameterError(f"{kind} report ({name}): {first}")
    if exc.ename == "DataError":  # the data, not the report: say what the user must fix
        return DataError(f"{kind} report ({name}): {first}")
    return ReportError(f"{kind} report ({name}) failed in cell {exc.exec_count}: {exc.ename}: {first}")


KERNEL_ATTEMPTS = 3


def _execute(kind: str, source: Path, executed: Path, params: dict[str, Any], name: str) -> Any:
    """papermill with the kernel on loopback TCP. A kernel that fails to start (a port taken
    between choosing and binding it, or a machine too busy to answer within the start
    timeout) is an accident of the machine, not of the report: it is retried, twice."""
    import papermill as pm
    import zmq

    for attempt in range(1, KERNEL_ATTEMPTS + 1):
        try:
            return pm.execute_notebook(str(source), str(executed), parameters=params, kernel_name="python3",
                                       cwd=str(source.parent), progress_bar=False, log_output=False, start_timeout=180,
                                       # each kernel its own loopback ports (IPC socket paths collided between
                                       # concurrent workers); only the kernel's own warnings are silenced
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except pm.PapermillExecutionError as exc:
            raise _failure(kind, name, exc) from None
        except (RuntimeError, zmq.ZMQError) as exc:
            if attempt == KERNEL_ATTEMPTS or not _kernel_start_failure(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _kernel_start_failure(exc: BaseException) -> bool:
    import zmq

    return isinstance(exc, zmq.ZMQError) or "Kernel didn't respond" in str(exc) or "Kernel died" in str(exc)


def run_report(kind: str, params: dict[str, Any], out_html: str | Path, notebooks: str | Path | None = None,
               keep_notebooks: bool = False) -> Path:
    """Execute the `kind` notebook with `params` and write its HTML page."""
    params = resolve_report_params(kind, params)
    source = (Path(notebooks) if notebooks else notebooks_dir()) / REPORTS[kind]
    if not source.is_file():
        raise InputFileError(str(source), "report notebook not found")
    params.update({k: str(Path(params[k]).resolve()) for k in PATH_PARAMS if params.get(k)})
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tipdrift-nb-") as tmp:
        work = out_html.parent / "_executed" if keep_notebooks else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        nb = _execute(kind, source, work / (out_html.stem + ".ipynb"), params, out_html.name)
    title = f"tipdrift {kind} report" + (f": {params['unit']}" if params.get("unit") else "")
    out_html.write_text(render_html(nb, title, data_used(kind, params), params["small_cell"]), encoding="utf-8")
    write_vega_asset(out_html.parent)
    return out_html


def data_used(kind: str, params: dict[str, Any]) -> str:
    """The footer's account of the data: the source folder (by name) and table, as of when."""
    folder = Path(params["data_dir"]).name if params.get("data_dir") else ""
    what = (params.get("table") or "its cases table") if kind == "drift" else "arrests, prosecutions and dispositions"
    as_of = f", as of {params['as_of']}" if params.get("as_of") else ""
    mapping = f", read through {Path(params['mapping']).name}" if params.get("mapping") else ""
    return f"{what} in {folder}{mapping}{as_of}"


def _slug(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", unit).strip("_") or "unit"


def _one(args: tuple[str, dict[str, Any], str, str | None, bool]) -> tuple[str, str]:
    kind, params, out, notebooks, keep = args
    run_report(kind, params, out, notebooks, keep)
    return params["unit"], out


def _run_pages(kind: str, params: dict[str, Any], units: list[str], out: Path, notebooks: str | Path | None,
               workers: int, progress: bool, keep_notebooks: bool) -> dict[str, str]:
    """One page per unit in worker processes; unit -> page path."""
    jobs = [(kind, {**params, "unit": u}, str(out / f"{kind}_{_slug(u)}.html"), str(notebooks) if notebooks else None,
             keep_notebooks) for u in units]
    done: dict[str, str] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"{kind} reports", unit="report")
    # spawn, not fork: a process that has run DuckDB or polars holds thread pools whose
    # locks a forked child inherits mid-use (a worker died with a segfault in libc after
    # the demo's person resolution)
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for fut in as_completed([pool.submit(_one, j) for j in jobs]):
            unit, path = fut.result()
            done[unit] = path
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    return done


def _shared_drift(params: dict[str, Any], out: Path, private: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Detection once over all units: the run saved privately for the workers, shifts.json
    (aggregates) in the report folder; units and their shift counts for the index."""
    from tipdrift.drift import write_json
    from tipdrift.jobs import drift_run_for

    from tipdrift.pages import QUALITY_SECTION, quality_html

    run = drift_run_for({**params, "run_dir": ""})
    params["run_dir"] = str(run.save(private).parent)
    if run.quality is not None:  # the same section on every page: drawn once here, not once per unit
        (private / QUALITY_SECTION).write_text(quality_html(run.quality, params["small_cell"], heading="h3"),
                                               encoding="utf-8")
    write_json(run.document(), out / "shifts.json")
    summary = {}
    for st in run.statuses:
        mine = [s.status for s in run.shifts if s.unit == st.unit]
        summary[st.unit] = {"series": st.status, "reason": st.reason, "shifts": len(mine),
                            "statuses": {x: mine.count(x) for x in sorted(set(mine))}}
    return run.units(), summary


def _shared_linkage(params: dict[str, Any], private: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Linkage once over all records, written privately (it holds person ids)."""
    from tipdrift.jobs import linked_for

    params["data_dir"] = str(Path(params["data_dir"]).resolve())
    linked, _ = linked_for({**params, "linked_dir": ""})
    linked.write(private)
    params["linked_dir"] = str(private)
    units = sorted(linked.trajectories.get_column("jurisdiction").drop_nulls().unique().to_list())
    return units, {u: {} for u in units}


def _link_pages(units: list[str], done: dict[str, str]) -> None:
    """Each unit page gets links to the index and to the previous and next unit."""
    from tipdrift.pages import add_navigation

    names = [(u, Path(done[u]).name) for u in units]
    for i, (u, name) in enumerate(names):
        path = Path(done[u])
        text = add_navigation(path.read_text(encoding="utf-8"), "index.html", names[i - 1] if i else None,
                              names[i + 1] if i + 1 < len(names) else None)
        path.write_text(text, encoding="utf-8")


def run_all_units(kind: str, params: dict[str, Any], out_dir: str | Path, notebooks: str | Path | None = None,
                  workers: int = 2, progress: bool = True, keep_notebooks: bool = False) -> Path:
    """One report per unit in worker processes, and index.html linking them."""
    params = resolve_report_params(kind, params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tipdrift-private-") as tmp:
        shared = _shared_drift if kind == "drift" else (lambda p, o, t: _shared_linkage(p, t))
        units, summary = shared(params, out, Path(tmp))
        done = _run_pages(kind, params, units, out, notebooks, workers, progress, keep_notebooks)
    params = {k: v for k, v in params.items() if k not in ("run_dir", "linked_dir")}
    _link_pages(units, done)
    index = out / "index.html"
    index.write_text(index_html(kind, units, done, summary, params), encoding="utf-8")
    (out / "index.json").write_text(json.dumps({"kind": kind, "units": {u: {"report": Path(done[u]).name, **summary[u]}
                                                                         for u in units}}, indent=1) + "\n")
    return index
