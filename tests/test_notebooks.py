"""The exploration notebook on data it was not written for (nbval runs it on the defaults)."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO


def test_explore_runs_on_the_ctdc_layout_from_its_parameters(tmp_path: Path) -> None:
    """explore.ipynb with only its parameters changed reads the CTDC-layout sample through
    its mapping (year-only, no trajectory tables): no error, the linkage sections say why
    they are skipped, the unit with most shifts is shown with its completeness chart, and
    no table is a raw repr. Catches hard-coded demo paths, as-of dates and cohorts."""
    import papermill as pm

    out = tmp_path / "explore.ipynb"
    pm.execute_notebook(str(REPO / "notebooks" / "explore.ipynb"), str(out), cwd=str(REPO / "notebooks"),
                        parameters={"data_dir": "../data/examples/ctdc", "table": "sample.csv",
                                    "mapping": "../data/examples/ctdc/mapping.yaml", "unit_column": "citizenship",
                                    "freq": "year", "context_dir": ""},
                        kernel_name="python3", progress_bar=False, log_output=False)
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    text = json.dumps(outputs)
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert "sections 1 and 2 are skipped" in text
    assert "Recording completeness: " in text and "Case-type mix: " in text
    assert not any("text/plain" in o.get("data", {}) and "shape: (" in "".join(o["data"]["text/plain"])
                   for o in outputs)
