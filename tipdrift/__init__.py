"""tipdrift: longitudinal human-trafficking case data, read honestly.

Public facade: loaders, linkage, attrition, drift detection and context annotation.
Internals live in their own modules; import from here in notebooks.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("tipdrift")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from tipdrift.errors import InputFileError
from tipdrift.load import LoadResult, load_table, load_tables
from tipdrift.mapping import Mapping

__all__ = ["__version__", "InputFileError", "LoadResult", "Mapping", "load_table", "load_tables"]
