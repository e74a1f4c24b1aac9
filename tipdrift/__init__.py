"""tipdrift: longitudinal human-trafficking case data, read honestly.

Public facade: loaders, linkage, attrition, drift detection and context annotation.
Internals live in their own modules; import from here in notebooks.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("tipdrift")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from tipdrift.errors import InputFileError, ParameterError
from tipdrift.load import LoadResult, load_table, load_tables
from tipdrift.mapping import Mapping
from tipdrift.params import DriftParams, TrajectoryParams
from tipdrift.series import CountSeries, build_series
from tipdrift.shift import Shift


def __getattr__(name: str):  # the heavier pieces load on first use, so `import tipdrift` stays quick
    lazy = {
        "link_trajectories": "tipdrift.link", "link_files": "tipdrift.link",
        "AttritionFitter": "tipdrift.attrition", "RearrestFitter": "tipdrift.attrition",
        "DriftDetector": "tipdrift.detect", "fit_run": "tipdrift.detect", "run_drift": "tipdrift.drift", "DriftRun": "tipdrift.drift",
        "attach_context": "tipdrift.context", "load_context": "tipdrift.context",
        "decompose_pooled_shift": "tipdrift.decompose",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'tipdrift' has no attribute '{name}'")


__all__ = ["__version__", "AttritionFitter", "CountSeries", "DriftDetector", "DriftParams", "DriftRun", "InputFileError",
           "LoadResult", "Mapping", "ParameterError", "RearrestFitter", "Shift", "TrajectoryParams", "attach_context",
           "build_series", "decompose_pooled_shift", "fit_run", "link_files", "link_trajectories", "load_context", "load_table",
           "load_tables", "run_drift"]
