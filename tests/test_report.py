"""Reports: offline HTML with provenance, suppressed small cells, no identifiers,
reproducible content, clear parameter errors, one page per unit with an index."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tipdrift.errors import ParameterError, ReportError
from tipdrift.params import resolve_report_params as resolve_params
from tipdrift.report import parse_param_args, run_all_units, run_report

URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
ID_COLUMNS = {"arrests": ("person_id", "arrest_id"), "prosecutions": ("person_id", "prosecution_id", "arrest_id"),
              "dispositions": ("person_id", "disposition_id", "prosecution_id"), "cases": ("case_id",)}


def identifiers(world: Path) -> set[str]:
    """Every person and record identifier in the input tables, whatever its format."""
    import polars as pl

    ids: set[str] = set()
    for table, cols in ID_COLUMNS.items():
        df = pl.read_parquet(world / f"{table}.parquet")
        for c in cols:
            if c in df.columns:
                ids |= set(df.get_column(c).drop_nulls().cast(pl.String).to_list())
    return ids


def leaked(text: str, ids: set[str]) -> set[str]:
    """Identifiers that appear as whole tokens in `text`."""
    return set(re.findall(r"[A-Za-z0-9_.:-]+", text)) & ids


class _Tables(HTMLParser):
    """Collects the text of every table cell after a given heading."""

    def __init__(self) -> None:
        super().__init__()
        self.heading = ""
        self.in_h = self.in_td = False
        self.cells: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag in ("h2", "h3"):
            self.in_h, self.heading = True, ""
        if tag == "td":
            self.in_td = True
            self.cells.setdefault(self.heading, []).append("")

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag in ("h2", "h3"):
            self.in_h = False
        if tag == "td":
            self.in_td = False

    def handle_data(self, data):  # noqa: ANN001
        if self.in_h:
            self.heading += data
        if self.in_td:
            self.cells[self.heading][-1] += data


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tipdrift.testing.synth import SynthConfig, write_synthetic

    out = tmp_path_factory.mktemp("world")
    write_synthetic(out, SynthConfig(seed=5, scale=0.2, organisations=12), context_dir=out / "context_log")
    return out


@pytest.fixture(scope="module")
def drift_pages(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    run_all_units("drift", {"data_dir": str(small_world), "context_dir": str(small_world / "context_log"),
                            "as_of": "2024-12-31"}, out, workers=2, progress=False)
    return out


def test_index_links_one_report_per_unit(drift_pages: Path) -> None:
    import json

    index = (drift_pages / "index.html").read_text()
    info = json.loads((drift_pages / "index.json").read_text())
    doc = json.loads((drift_pages / "shifts.json").read_text())
    units = [s["unit"] for s in doc["series"]]
    assert sorted(info["units"]) == sorted(units)
    for u, entry in info["units"].items():
        assert (drift_pages / entry["report"]).is_file()
        assert f'href="{entry["report"]}"' in index
        assert entry["shifts"] == sum(1 for s in doc["shifts"] if s["unit"] == u)


def test_pages_are_offline_carry_provenance_and_no_identifiers(drift_pages: Path, small_world: Path) -> None:
    """No network URL, no identifier of the input tables (in any format) in any file of the
    report folder, nothing person-level or executed notebooks left there, and the input's
    sha256 on the page. Catches an identifier check tied to one id format, a leaked
    working file, and provenance that names the wrong (or no) input."""
    import hashlib

    ids = identifiers(small_world)
    assert len(ids) > 1000
    pages = sorted(drift_pages.glob("drift_*.html"))
    assert pages
    sha = hashlib.sha256((small_world / "cases.parquet").read_bytes()).hexdigest()
    files = [f for f in drift_pages.rglob("*") if f.is_file()]
    # pages, aggregates, and one script: the offline Vega bundle, the same for every folder
    assert {f.suffix for f in files} <= {".html", ".json", ".js"}, files
    assert [f.relative_to(drift_pages).as_posix() for f in files if f.suffix == ".js"] == ["assets/tipdrift-vega.js"]
    from tipdrift.charts import vega_bundle

    assert (drift_pages / "assets" / "tipdrift-vega.js").read_text() == vega_bundle()
    for f in files:
        if f.suffix == ".js":
            continue  # the library itself (checked above to be exactly the bundle): no data in it
        text = f.read_text()
        assert not URL_ATTR.search(text), f
        assert not leaked(text, ids), (f, sorted(leaked(text, ids))[:5])
        assert 'src="assets/tipdrift-vega.js"' in text or f.suffix == ".json" or f.name == "index.html"
    text = pages[0].read_text()
    assert "tipdrift version" in text and "as of" in text
    assert sha in text
    assert text.count('class="tipdrift-chart"') >= 2 and "<svg" in text


def test_small_counts_are_suppressed(drift_pages: Path) -> None:
    seen_suppressed = False
    for page in drift_pages.glob("drift_ORG*.html"):
        parser = _Tables()
        parser.feed(page.read_text())
        cells = next(v for k, v in parser.cells.items() if k.startswith("Cases per year"))
        for c in cells:
            c = c.strip()
            if c.isdigit() and len(c) != 4:  # skip the year column
                assert int(c) == 0 or int(c) >= 5, (page.name, c)  # a true zero is shown as 0
            seen_suppressed |= c == "<5"
    assert seen_suppressed


def test_same_inputs_same_content(small_world: Path, tmp_path: Path) -> None:
    params = {"data_dir": str(small_world), "context_dir": str(small_world / "context_log"), "unit": "(pooled)",
              "as_of": "2024-12-31"}
    a = run_report("drift", params, tmp_path / "a.html").read_text()
    b = run_report("drift", params, tmp_path / "b.html").read_text()
    strip = lambda s: re.sub(r"Generated [^<]* UTC", "", s)  # noqa: E731
    assert strip(a) == strip(b)


def test_bad_parameters_stop_with_a_clear_message(small_world: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown unit 'NOPE'"):
        run_report("drift", {"data_dir": str(small_world), "unit": "NOPE", "context_dir": ""}, tmp_path / "x.html")
    with pytest.raises(ParameterError, match="bad date range"):
        run_report("trajectories", {"data_dir": str(small_world), "start": "2020-01-01", "end": "2019-01-01"},
                   tmp_path / "y.html")
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        resolve_params("drift", {"colour": "red"})
    with pytest.raises(ParameterError, match="not a int"):
        resolve_params("drift", {"min_size": "six"})
    with pytest.raises(ParameterError, match="key=value"):
        parse_param_args(["unit"])


def test_trajectory_report_shows_no_identifiers(small_world: Path, tmp_path: Path) -> None:
    page = run_report("trajectories", {"data_dir": str(small_world), "as_of": "2024-12-31"}, tmp_path / "t.html")
    text = page.read_text()
    assert not leaked(text, identifiers(small_world))
    assert not URL_ATTR.search(text)
    assert text.count('class="tipdrift-chart"') >= 3
    assert "Attrition by arrest cohort" in text and "provisional" in text


def test_trajectory_reports_for_every_jurisdiction_share_one_linkage(small_world: Path, tmp_path: Path) -> None:
    """One page per jurisdiction; the report folder holds pages and the index only (the
    person-level linkage lived in a private folder). Catches trajectories.parquet or
    executed notebooks written next to index.html."""
    import json

    index = run_all_units("trajectories", {"data_dir": str(small_world), "as_of": "2024-12-31"}, tmp_path,
                          workers=2, progress=False)
    info = json.loads((tmp_path / "index.json").read_text())
    assert len(info["units"]) == 12  # J01..J12
    files = [f.relative_to(tmp_path).as_posix() for f in tmp_path.rglob("*") if f.is_file()]
    assert {Path(f).suffix for f in files if f != "assets/tipdrift-vega.js"} <= {".html", ".json"}, files
    ids = identifiers(small_world)
    for u, entry in info["units"].items():
        text = (tmp_path / entry["report"]).read_text()
        assert f"Trajectories: {u}" in text
        assert not leaked(text, ids) and not URL_ATTR.search(text)
    assert not URL_ATTR.search(index.read_text())


def test_a_failing_notebook_is_not_a_parameter_error(small_world: Path, tmp_path: Path) -> None:
    """A notebook that fails for a reason other than its parameters raises ReportError
    naming the cell and the error (exit 1), not ParameterError (exit 2). Catches every
    notebook failure being reported as the user's mistake."""
    import json
    import shutil

    from tipdrift.cli import main
    from tipdrift.report import notebooks_dir

    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    nb = json.loads((notebooks_dir() / "drift_report.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "bug-cell", "metadata": {}, "outputs": [],
                        "source": ["raise ZeroDivisionError('a bug in a cell')"]})
    (nb_dir / "drift_report.ipynb").write_text(json.dumps(nb))
    shutil.copy(notebooks_dir() / "trajectory_report.ipynb", nb_dir)
    params = {"data_dir": str(small_world), "context_dir": "", "as_of": "2024-12-31"}
    with pytest.raises(ReportError, match="ZeroDivisionError: a bug in a cell"):
        run_report("drift", params, tmp_path / "x.html", notebooks=nb_dir)
    code = main(["report", "drift", "--notebooks", str(nb_dir), "--out", str(tmp_path / "r"),
                 *(f"--param={k}={v}" for k, v in params.items())])
    assert code == 1
    assert main(["report", "drift", "--param", "unit=NOPE", "--param", f"data_dir={small_world}",
                 "--out", str(tmp_path / "r")]) == 2


def test_notebook_parameter_cells_match_the_one_set_of_defaults() -> None:
    """Each report notebook's parameters cell holds exactly the report's parameters with the
    defaults from tipdrift.params (paths: the same folder, seen from notebooks/). Catches a
    default changed in one place and not the other."""
    import ast
    import json

    from tipdrift.params import report_defaults
    from tipdrift.report import REPORTS, notebooks_dir

    for kind, name in REPORTS.items():
        nb = json.loads((notebooks_dir() / name).read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        values = {t.targets[0].id: ast.literal_eval(t.value) for t in ast.parse("".join(cell["source"])).body}
        defaults = report_defaults(kind)
        assert list(values) == list(defaults), kind
        for k, v in values.items():
            if k in ("data_dir", "context_dir") and v:
                assert (notebooks_dir() / v).resolve() == (notebooks_dir().parent / defaults[k]).resolve(), k
            else:
                assert v == defaults[k] and type(v) is type(defaults[k]), (kind, k, v)


def test_provenance_shows_no_absolute_paths(drift_pages: Path) -> None:
    for page in list(drift_pages.glob("drift_*.html"))[:3] + [drift_pages / "index.html"]:
        text = page.read_text()
        assert str(drift_pages.parent) not in text, page.name


def test_each_drift_page_says_what_data_it_holds(drift_pages: Path) -> None:
    """A 'Data' section with rows read, rejected by reason, the as-of date and how it was
    set, and the units not tested and why. Catches a report that shows figures without
    saying what they rest on (a unit too short to test read as 'no significant shift')."""
    parser = _Tables()
    parser.feed((drift_pages / "drift_pooled.html").read_text())
    text = " ".join(c for k, v in parser.cells.items() if k.startswith("Data") for c in v)
    assert "cases.parquet: rows read" in text and "rejected, by reason" in text
    assert "2024-12-31 (given)" in text and "units not tested" in text


def test_a_drift_report_reads_a_source_through_its_mapping(tmp_path: Path) -> None:
    """A drift report on the CTDC-layout sample with `mapping`, `unit_column` and yearly
    periods: no second canonical copy of the data, the completeness chart beside the mix,
    the completeness shift labelled as such, periods named as years, the mapping's rules
    listed in the Data section. Catches reports that accept no mapping or demand org_id."""
    from conftest import REPO

    ctdc = REPO / "data" / "examples" / "ctdc"
    page = run_report("drift", {"data_dir": str(ctdc), "table": "sample.csv", "mapping": str(ctdc / "mapping.yaml"),
                                "unit_column": "citizenship", "freq": "year", "context_dir": "", "unit": "UA"},
                      tmp_path / "ua.html")
    text = page.read_text()
    assert "Recording completeness: UA" in text
    assert "artifact_compatible (recording completeness)" in text
    assert "<td>2013</td><td>2013 to 2013</td>" in text
    assert "read as not known" in text and "one record per row (id: row)" in text


def _small_cells_world(folder: Path) -> Path:
    """40 arrests in J1 (2015): 30 convicted, 1 acquitted, 2 dismissed, the rest pending;
    3 arrests in J2. Cells of 1-4 people everywhere a report could leak them."""
    from conftest import write_csv

    folder.mkdir()
    arrests = [[f"A{i}", f"P{i}", "2015-03-01", "J1" if i < 40 else "J2", "other"] for i in range(43)]
    pros = [[f"F{i}", f"P{i}", "2015-04-01", "J1" if i < 40 else "J2", "other", f"A{i}"] for i in range(43)]
    outcome = ["convicted"] * 30 + ["acquitted"] + ["dismissed"] * 2
    disp = [[f"D{i}", f"P{i}", "2015-10-01", o, f"F{i}", "24"] for i, o in enumerate(outcome)]
    disp.append(["D40", "P40", "2015-10-01", "convicted", "F40", "24"])
    write_csv(folder / "arrests.csv", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"], arrests)
    write_csv(folder / "prosecutions.csv", ["prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type",
                                            "arrest_id"], pros)
    write_csv(folder / "dispositions.csv", ["disposition_id", "person_id", "disposition_date", "outcome",
                                            "prosecution_id", "sentence_months"], disp)
    return folder


def test_trajectory_reports_show_nothing_from_cells_of_one_to_four(tmp_path: Path) -> None:
    """A share from 1 to 4 people is never shown (acquitted 1 of 40 would read 2.5%; the
    table says 'suppressed (<5 people)' and the chart data hold no value for it); a unit
    report shows its own link counts (J2: 3, shown as <5), not all jurisdictions'; zeros
    are shown as 0. Catches shares from small cells, the all-jurisdiction link table under
    a unit's title, and true zeros shown as '<5'."""
    from tipdrift.jobs import trajectory_report_view

    world = _small_cells_world(tmp_path / "w")
    params = {"data_dir": str(world), "as_of": "2018-12-31", "by": ""}
    text = run_report("trajectories", params, tmp_path / "all.html").read_text()
    parser = _Tables()
    parser.feed(text)
    cells = [c.strip() for v in parser.cells.values() for c in v]
    assert "suppressed (<5 people)" in cells
    assert not any(c.startswith(("2.5%", "5.0%")) for c in cells), [c for c in cells if "%" in c][:8]
    assert "0" in cells  # no person-window links: a true zero
    view = trajectory_report_view(params)
    row = view.chart_cohorts().to_dicts()[0]
    assert row["acquitted"]["estimate"] is None and row["dismissed"]["estimate"] is None
    assert row["convicted"]["estimate"] is not None
    unit = run_report("trajectories", {**params, "unit": "J2"}, tmp_path / "j2.html").read_text()
    parser = _Tables()
    parser.feed(unit)
    cells = [c.strip() for v in parser.cells.values() for c in v]
    assert "<5" in cells  # J2's 3 key links
    counts = [int(c) for c in cells if c.isdigit() and len(c) != 4]
    assert all(c == 0 or c >= 5 for c in counts) and 30 not in counts and 33 not in counts, counts
    assert not any("%" in c and "suppressed" not in c for c in cells), [c for c in cells if "%" in c]


def test_a_report_stops_on_unmapped_labels(tmp_path: Path) -> None:
    """A drift report on a table with a label its mapping does not map exits 1 naming the
    label, as validate, drift, link and quality do. Catches a report that silently drops
    the rows and draws the rest."""
    from conftest import write_csv

    from tipdrift.cli import main

    rows = [[f"C{i}", "O1", f"2020-{1 + i % 12:02d}-05", "other" if i else "Smuggling"] for i in range(40)]
    write_csv(tmp_path / "cases.csv", ["case_id", "org_id", "opened_date", "case_type"], rows)
    rc = main(["report", "drift", "--param", f"data_dir={tmp_path}", "--param", "context_dir=", "--param", "unit=O1",
               "--param", "as_of=2021-12-31", "--out", str(tmp_path / "r")])
    assert rc == 1
