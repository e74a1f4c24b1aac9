"""The jobs a report notebook, the CLI and the demo run: report parameters in, a finished
run (detection or linkage) and its view model out. One path from parameters to results,
so a notebook cell, `tipdrift report` and `tipdrift demo` cannot drift apart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tipdrift.drift import DriftRun, run_drift
from tipdrift.params import detection_params, resolve_report_params
from tipdrift.views import DriftView, TrajectoryView, drift_view, trajectory_view

LINK_KINDS: tuple[str, ...] = ("arrests", "prosecutions", "dispositions")


def drift_run_for(params: dict[str, Any]) -> DriftRun:
    """The run a drift report reads: a saved one (`run_dir`) or a fresh detection over all
    units with the pooled series."""
    from tipdrift.load import find_table

    if params["run_dir"]:
        return DriftRun.load(params["run_dir"])
    table = Path(params["data_dir"]) / params["table"] if params["table"] else find_table(params["data_dir"], "cases")
    run = run_drift(table, detection_params(params, pooled=True), context=params["context_dir"] or None,
                    as_of=params["as_of"] or None, mapping=params["mapping"] or None,
                    unit=params["unit_column"] or None, max_rejected=params["max_rejected"])
    stop_on_unmapped({Path(str(table)).name: run.loaded.summary})
    return run


def stop_on_unmapped(summaries: dict[str, dict[str, Any]]) -> None:
    """A report, like every command, stops (DataError, exit 1) on labels its mapping does not map."""
    from tipdrift.errors import DataError

    for name, s in summaries.items():
        for col, labels in s.get("unmapped_labels", {}).items():
            listed = ", ".join(f"'{k}' ({v} rows)" for k, v in labels.items())
            raise DataError(f"{name}: unmapped labels in column '{col}': {listed}; add them under labels.{col} "
                            "in the mapping file")


def drift_report_view(given: dict[str, Any]) -> DriftView:
    """Validate a drift report's parameters, get its run, and build the unit's view."""
    params = resolve_report_params("drift", given)
    return drift_view(drift_run_for(params), params)


def linked_for(params: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """The linkage a trajectory report reads (a saved `linked_dir`, or linked now from the
    data folder) and the provenance of its three inputs."""

    from tipdrift.link import LinkResult, link_files
    from tipdrift.load import find_table
    from tipdrift.provenance import input_record

    if params["linked_dir"]:
        linked = LinkResult.read(params["linked_dir"])
        paths = [Path(linked.summary["sources"][k]["path"]) for k in LINK_KINDS]
    else:
        paths = [find_table(params["data_dir"], k) for k in LINK_KINDS]
        linked = link_files(*paths, mapping=params["mapping"] or None, as_of=params["as_of"] or None,
                            max_rejected=params["max_rejected"])
        stop_on_unmapped({Path(s["path"]).name: s for s in linked.summary["sources"].values()})
    return linked, [input_record(p) for p in paths]


def trajectory_report_view(given: dict[str, Any]) -> TrajectoryView:
    """Validate a trajectory report's parameters, link (or read the linkage), build the view."""
    params = resolve_report_params("trajectories", given)
    linked, inputs = linked_for(params)
    return trajectory_view(linked, params, inputs)
