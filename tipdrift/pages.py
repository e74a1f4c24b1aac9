"""HTML for reports: plain tables, the provenance block, the page shell with inline CSS
(offline: no CDN, no external stylesheet) and the index of a report folder."""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import polars as pl

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#212529}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #dee2e6;padding:.25em .6em;text-align:left}
th{background:#f1f3f5}.tipdrift-chart{margin:1em 0;overflow-x:auto}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}
.provenance{font-size:.85em;color:#495057}footer{margin-top:3em;font-size:.8em;color:#868e96}
.jp-OutputPrompt,.jp-InputPrompt,.anchor-link{display:none}pre{white-space:pre-wrap}
nav.units{font-size:.9em;padding:.4em 0;border-bottom:1px solid #dee2e6;margin-bottom:1em}
.tipdrift-chart.live>.static{display:none}@media print{.tipdrift-chart.live>.static{display:block}.tipdrift-chart .interactive{display:none}}
#vg-tooltip-element{font-size:12px}
"""
PATH_PARAMS = ("data_dir", "context_dir", "run_dir", "linked_dir", "mapping")


def table_html(df: pl.DataFrame, max_rows: int = 200) -> str:
    """A plain HTML table (no dtype row, no index), values escaped."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        body.append("<tr>" + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>")
    more = f"<p>{df.height - max_rows} more rows not shown.</p>" if df.height > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def provenance_html(prov: dict[str, Any]) -> str:
    """Version, as-of date, each input's rows and sha256, and the parameters. Paths show only
    their last part: the hashes identify the inputs, and a full path can carry a user's name."""
    rows = [("tipdrift version", prov["tipdrift_version"]), ("as of", prov.get("as_of") or "")]
    rows += [(f"input {Path(i['path']).name}", f"{i['rows']} rows, sha256 {i['sha256']}") for i in prov["inputs"]]
    shown = {k: (Path(v).name if k in PATH_PARAMS and v else v) for k, v in prov["parameters"].items()}
    rows += [("parameters", ", ".join(f"{k}={v}" for k, v in shown.items()))]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="provenance">{cells}</table>'


VEGA_ASSET = "assets/tipdrift-vega.js"  # Vega, Vega-Lite and vega-embed, written once per report folder
# Replaces each chart's static SVG by the interactive view when the bundle is there (offline,
# same folder); without it, or in print, the SVG stays.
INTERACTIVE = """<script src="%s"></script><script>
if (window.vegaEmbed) { document.querySelectorAll("div.tipdrift-chart").forEach(function (box) {
  var spec = box.querySelector("script.vega-spec"); if (!spec) return;
  var view = document.createElement("div"); view.className = "interactive"; box.appendChild(view);
  vegaEmbed(view, JSON.parse(spec.textContent), {renderer: "svg", actions: false})
    .then(function () { box.classList.add("live"); }).catch(function () { view.remove(); });
}); }
</script>""" % VEGA_ASSET


def write_vega_asset(folder: str | Path) -> Path:
    """The Vega bundle at `folder`/assets/ (once per folder; a relative path, never a URL)."""
    from tipdrift.charts import vega_bundle

    path = Path(folder) / VEGA_ASSET
    if not path.is_file():  # written to a temporary name, then renamed: workers may race here
        import os
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(vega_bundle())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


def page(title: str, body: str, data: str = "", small_cell: int = 5) -> str:
    """One self-contained page around a rendered notebook body; the footer names the data
    used (`data`) and the suppression rule. Charts become interactive when the page's folder
    holds the Vega bundle (`write_vega_asset`); they stay static SVG otherwise."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    used = f"Data: {html.escape(data)}. " if data else ""
    script = INTERACTIVE if "vega-spec" in body else ""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}{script}<footer>Generated {stamp} by tipdrift. {used}Aggregated figures "
            f"only: counts from 1 to {small_cell - 1} are shown as &lt;{small_cell} and nothing is computed from them; "
            f"no person or record identifiers.</footer></body></html>")


def add_navigation(page_html: str, index: str, previous: tuple[str, str] | None, following: tuple[str, str] | None) -> str:
    """The page with a bar linking the index and the previous and next unit ((label, file) pairs)."""
    links = [f'<a href="{html.escape(index)}">all units (index)</a>']
    if previous:
        links.append(f'previous: <a href="{html.escape(previous[1])}">{html.escape(previous[0])}</a>')
    if following:
        links.append(f'next: <a href="{html.escape(following[1])}">{html.escape(following[0])}</a>')
    return page_html.replace("<body>", f'<body><nav class="units">{" | ".join(links)}</nav>', 1)


def index_html(kind: str, units: list[str], pages: dict[str, str], summary: dict[str, dict[str, Any]],
               params: dict[str, Any]) -> str:
    """The index of a report folder: one row per unit, linking its page."""
    rows = []
    for u in units:
        s = summary.get(u, {})
        statuses = ", ".join(f"{k} {v}" for k, v in s.get("statuses", {}).items()) or ("none" if kind == "drift" else "")
        tested = "analysed" if s.get("series", "analysed") == "analysed" else f"not tested: {s['series']} ({s['reason']})"
        cells = (f"<td>{html.escape(tested)}</td><td>{s['shifts']}</td><td>{html.escape(statuses)}</td>"
                 if kind == "drift" else "")
        rows.append(f"<tr><td><a href=\"{html.escape(Path(pages[u]).name)}\">{html.escape(u)}</a></td>{cells}</tr>")
    head = "<th>unit</th><th>series</th><th>shifts</th><th>statuses</th>" if kind == "drift" else "<th>jurisdiction</th>"
    shown = {k: (Path(v).name if k in PATH_PARAMS and v else v) for k, v in params.items()
             if k not in ("unit", "run_dir", "linked_dir")}
    settings = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in shown.items() if v not in ("", None))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tipdrift {kind} reports</title>"
            f"<style>{CSS}</style></head><body><h1>tipdrift {kind} reports</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<h2>Parameters</h2><table class=\"provenance\">{settings}</table></body></html>")


QUALITY_SECTION = "quality_section.html"  # a run folder's ready-drawn quality section (aggregates)


def quality_section(run_dir: str, doc: dict[str, Any] | None, threshold: int) -> str:
    """The quality section for a drift report: the one a shared run drew (report folders of
    many units), else drawn now; empty without a quality document."""
    ready = Path(run_dir) / QUALITY_SECTION if run_dir else None
    if ready is not None and ready.is_file():
        return ready.read_text(encoding="utf-8")
    return quality_html(doc, threshold, heading="h3") if doc is not None else ""


def quality_html(doc: dict[str, Any], threshold: int, heading: str = "h2") -> str:
    """The data-quality section: heat map, scores with their formulas, completeness over time."""
    from tipdrift.charts import chart_html, quality_heatmap, quality_over_time
    from tipdrift.views import quality_frames

    scores, series = quality_frames(doc, threshold)
    formulas = "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in doc["formulas"].items())
    wide = scores.with_columns(pl.col("score").cast(pl.String).fill_null("n/a")).pivot(
        on="criterion", index="source", values="score")
    parts = [f'<section class="quality"><{heading}>Data quality</{heading}>', chart_html(quality_heatmap(scores, doc["criteria"])),
             table_html(wide), f'<table class="formulas">{formulas}</table>']
    if series.height:
        parts.append(chart_html(quality_over_time(series)))
    notes = [f"{Path(s['source'].split(';')[0]).name}: {n}" for s in doc["sources"] for n in s.get("notes", [])]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts) + "</section>"
