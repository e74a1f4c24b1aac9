"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright.

1. A generated report opened from disk with every non-file request blocked: each chart
   turns interactive from the report folder's own Vega bundle (the data-quality section's
   heat map and completeness chart among them), hovering a bar shows its tooltip, and no
   request left the page.
2. JupyterLab on a loopback port, every other request blocked and counted: open
   explore.ipynb, run all cells, the charts appear drawn by JupyterLab's own Vega
   renderer, and hovering the mix chart shows a tooltip.

Chromium is installed by .ci/run (apt-get install chromium chromium-driver); Playwright
never downloads a browser. Without /usr/bin/chromium the tests skip, except under CI.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser(p):  # noqa: ANN001, ANN202 (playwright objects)
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run should install Debian's chromium and chromium-driver")
        pytest.skip("chromium not installed (apt-get install chromium chromium-driver)")
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tipdrift.report import run_report

    page_path = run_report("drift", {"data_dir": str(REPO / "data" / "synthetic"), "context_dir": str(REPO / "context_log"),
                                     "unit": "(pooled)", "as_of": "2024-12-31"}, tmp_path / "pooled.html")
    with sync_playwright() as p:
        browser = _browser(p)
        context = browser.new_context()
        requests: list[str] = []
        blocked: list[str] = []

        def route(r):  # noqa: ANN001, ANN202
            if r.request.url.startswith("file:"):
                return r.continue_()
            blocked.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("request", lambda req: requests.append(req.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_function("() => document.querySelectorAll('div.tipdrift-chart.live').length"
                               " === document.querySelectorAll('div.tipdrift-chart').length", timeout=30_000)
        charts = page.locator("div.tipdrift-chart")
        n = charts.count()
        assert n >= 3
        for i in range(n):  # each chart live: the interactive view drawn from the offline bundle
            svg = charts.nth(i).locator(".interactive svg").first
            box = svg.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, f"chart {i} did not render"
            assert charts.nth(i).locator(".interactive svg path").count() > 0
        # hover a bar of the volume chart: its tooltip gives the period and the count
        volume = page.locator("div.tipdrift-chart", has_text="Cases per period").first
        volume.scroll_into_view_if_needed()
        box = volume.locator(".interactive svg").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] - 40)
        page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
        tip = page.locator("#vg-tooltip-element").inner_text()
        assert "period" in tip and "cases" in tip
        assert page.locator("text=tipdrift version").count() >= 1
        # the data-quality section: the heat map (a drawn cell per criterion) and the scores
        quality = page.locator("section.quality")
        assert quality.locator("div.tipdrift-chart svg").count() >= 2
        assert quality.locator("g.mark-rect path").count() >= 7  # one drawn cell per criterion
        assert quality.locator("th", has_text="taxonomic_applicability").count() == 1
        browser.close()
    assert blocked == []
    assert all(u.startswith("file:") for u in requests), requests


def test_report_folder_navigation_and_completeness_in_chromium(tmp_path: Path) -> None:
    """A folder of drift reports on the CTDC-layout sample (read through its mapping): the
    index is a table of units linking each page, each page has one H1 and links back to the
    index and on to the next unit, and the recording-completeness chart is drawn. Catches
    pages with no way back, raw-JSON parameters on the index, and two H1s per page."""
    from playwright.sync_api import sync_playwright

    from tipdrift.report import run_all_units

    ctdc = REPO / "data" / "examples" / "ctdc"
    index = run_all_units("drift", {"data_dir": str(ctdc), "table": "sample.csv", "mapping": str(ctdc / "mapping.yaml"),
                                    "unit_column": "citizenship", "freq": "year", "context_dir": ""},
                          tmp_path / "r", progress=False)
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.goto(index.as_uri())
        assert page.locator("h1").count() == 1 and "{" not in page.locator("body").inner_text()
        page.locator("table a", has_text="MD").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("drift_MD.html") and page.locator("h1").count() == 1
        chart = page.locator("div.tipdrift-chart", has_text="Recording completeness: MD")
        assert chart.locator("svg path").count() > 0
        page.locator("nav.units a", has_text="NG").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("drift_NG.html")
        page.locator("nav.units a", has_text="index").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("index.html")
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PIXELS = """(e, part) => {  // a digest of the chart's canvas, whole or its lower half (the mix)
    const c = e.querySelector('canvas'); if (!c) return '';
    const y = part === 'lower' ? Math.floor(c.height / 2) : 0;
    const d = c.getContext('2d').getImageData(0, y, c.width, c.height - y).data;
    let h = 0; for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) | 0;
    return c.width + 'x' + c.height + ':' + h; }"""


def explorer_checks(page, vega: str) -> dict:  # noqa: ANN001 (a playwright page)
    """Drive both explorers as a user would: pick a cohort in the trajectory explorer (its
    heading and flow chart must redraw), another unit in the shift explorer (its settings
    line and linked chart must redraw), then drag across the linked volume chart (the mix
    below must redraw for the brushed range). Returns what was seen, with the update
    times the explorers print. JupyterLab draws Vega on a canvas, so charts are compared
    by their pixels."""
    seen: dict = {"update_ms": []}

    def last_ms(box: str) -> int:
        text = page.locator(f"{box} .tipdrift-status").first.inner_text()
        return int(text.split("updated in ")[1].split(" ms")[0]) if "updated in" in text else -1

    def cell(box: str):  # noqa: ANN202: the notebook cell holding an explorer
        return page.locator(".jp-Cell", has=page.locator(box)).first

    traj = ".tipdrift-trajectory-explorer"
    flow = cell(traj).locator(f"{vega} .vega-embed").first
    flow.scroll_into_view_if_needed()
    before = flow.evaluate(PIXELS, "all")
    page.locator(f"{traj} select").first.select_option(label="2016")
    page.wait_for_function("() => [...document.querySelectorAll('.tipdrift-selection')]"
                           ".some(e => e.textContent.includes('arrest cohort 2016'))", timeout=30_000)
    page.wait_for_timeout(500)
    seen["cohort_redrawn"] = flow.evaluate(PIXELS, "all") != before
    seen["update_ms"].append(last_ms(traj))
    shifts = ".tipdrift-shift-explorer"
    linked = cell(shifts).locator(f"{vega} .vega-embed").first
    linked.scroll_into_view_if_needed()
    before = linked.evaluate(PIXELS, "all")
    select = page.locator(f"{shifts} select").first
    units = select.locator("option").all_inner_texts()
    select.select_option(label=units[1])
    page.wait_for_function(f"() => [...document.querySelectorAll('.tipdrift-settings')]"
                           f".some(e => e.textContent.startsWith('{units[1]}:'))", timeout=30_000)
    page.wait_for_timeout(500)
    seen["unit_redrawn"] = linked.evaluate(PIXELS, "all") != before
    seen["update_ms"].append(last_ms(shifts))
    linked.scroll_into_view_if_needed()
    mix_before = linked.evaluate(PIXELS, "lower")
    box = linked.bounding_box()
    y = box["y"] + 70  # inside the volume chart, the upper one of the pair
    page.mouse.move(box["x"] + box["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    seen["brushed"] = linked.evaluate(PIXELS, "lower") != mix_before
    return seen


def test_explore_notebook_runs_in_jupyterlab(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium not installed")
    # A scratch copy, so JupyterLab's autosave never writes outputs into the repository.
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / "explore.ipynb", root / "notebooks" / "explore.ipynb")
    (root / "data").symlink_to(REPO / "data")
    (root / "context_log").symlink_to(REPO / "context_log")
    port, token = _free_port(), "tipdrift-test-token"
    # Render every cell (JupyterLab 4 leaves off-screen cells out of the page by default).
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", f"--config={REPO / 'jupyter' / 'jupyter_server_config.py'}",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}"] + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = _browser(p)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            outside: list[str] = []

            def route(r):  # noqa: ANN001, ANN202: everything but the local server is blocked and counted
                if r.request.url.startswith(f"http://127.0.0.1:{port}/") or r.request.url.startswith(("data:", "blob:")):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/explore.ipynb?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
            # wait for the kernel to be idle (status bar), then Run > Run All Cells
            page.wait_for_function("() => /\\|\\s*Idle/.test(document.querySelector('.jp-StatusBar-Widget')"
                                   " ? document.body.innerText : '')", timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            vega = ".jp-OutputArea-output"  # JupyterLab's Vega renderer draws into div.vega-embed
            page.wait_for_function(f"() => document.querySelectorAll(\"{vega} .vega-embed .marks\").length >= 6",
                                   timeout=180_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
            charts = page.locator(f"{vega} .vega-embed .marks").count()
            widgets = explorer_checks(page, vega)
            # hover the mix chart: JupyterLab's own Vega renderer shows the tooltip (period, case type, share)
            mix = page.locator(".jp-Cell", has=page.locator(".tipdrift-shift-explorer")).first.locator(
                f"{vega} .vega-embed").first  # the linked chart: volume above, mix below
            mix.scroll_into_view_if_needed()
            box = mix.bounding_box()
            tip = ""
            for fx in (0.3, 0.45, 0.6):
                page.mouse.move(box["x"] + box["width"] * fx * 0.8, box["y"] + box["height"] * 0.7)
                page.wait_for_timeout(400)
                if page.locator("#vg-tooltip-element.visible").count():
                    tip = page.locator("#vg-tooltip-element").inner_text()
                    break
            news = page.locator("text=Would you like to get notified").count()
            page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
            page.keyboard.press("Control+s")  # the tracked notebook is saved without outputs
            saved = root / "notebooks" / "explore.ipynb"
            deadline = time.time() + 20
            while time.time() < deadline and '"execution_count": null' not in saved.read_text():
                time.sleep(0.5)
            page.screenshot(path=str(tmp_path / "lab.png"))
            browser.close()
        assert charts >= 6
        assert errors == 0, (tmp_path / "lab.png")
        print("explorer updates (ms, from the status line):", widgets["update_ms"])
        assert widgets["cohort_redrawn"], "the trajectory explorer's flow chart did not redraw for the chosen cohort"
        assert widgets["unit_redrawn"], "the shift explorer's chart did not redraw for the chosen unit"
        assert widgets["brushed"], "brushing the volume did not redraw the mix for the selected range"
        assert "share" in tip or "cases" in tip, tip
        assert outside == [], outside
        assert not news, "JupyterLab asked about news"
        import json

        cells = json.loads(saved.read_text())["cells"]
        assert cells and all(not c.get("outputs") and c.get("execution_count") is None
                             for c in cells if c["cell_type"] == "code"), "outputs were saved into the notebook"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
