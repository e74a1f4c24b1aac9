"""JupyterLab hooks for the repository's notebooks (used by jupyter/jupyter_server_config.py)."""
from __future__ import annotations

from typing import Any

# The tracked notebooks, relative to the lab's root: their outputs never reach git.
TRACKED = ("notebooks/explore.ipynb", "notebooks/drift_report.ipynb", "notebooks/trajectory_report.ipynb")


def _tracked(path: str, manager: Any) -> bool:
    """The file is one of the repository's tracked notebooks, wherever the lab's root is
    (or, under a root laid out like the repository, at one of their paths)."""
    from pathlib import Path

    if path.lstrip("/") in TRACKED:
        return True
    repo = Path(__file__).resolve().parents[1]
    root = Path(getattr(manager, "root_dir", "") or repo)
    return (root / path.lstrip("/")).resolve() in {(repo / t).resolve() for t in TRACKED}


def strip_tracked_outputs(model: dict[str, Any], path: str, **_: Any) -> None:
    """A `ContentsManager.pre_save_hook`: saving one of the tracked notebooks keeps its
    code and text but drops outputs, execution counts and widget state (person-level data
    shown while exploring must not be committed, and diffs stay readable). A copy saved
    under another name keeps its outputs."""
    if model.get("type") != "notebook" or not _tracked(path, _.get("contents_manager")):
        return
    nb = model["content"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)
