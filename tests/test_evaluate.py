"""TCPDBench definitions on hand-checked cases, and the accuracy targets on generated data."""
from __future__ import annotations

import pytest

from tipdrift.testing.evaluate import covering, evaluate_context, evaluate_mix_shifts, f_measure


def test_f_measure_with_margin() -> None:
    assert f_measure([50], [52], margin=3)["f1"] == 1.0
    r = f_measure([50], [60], margin=3)  # {0,50} vs {0,60}: one hit (0) of two each
    assert r["precision"] == 0.5 and r["recall"] == 0.5
    assert f_measure([], [], margin=3)["f1"] == 1.0
    # one prediction cannot match two true change points
    r = f_measure([50, 52], [51], margin=3)
    assert r["precision"] == 1.0 and r["recall"] == pytest.approx(2 / 3)


def test_covering() -> None:
    assert covering([50], [50], 100) == 1.0
    assert covering([], [], 100) == 1.0
    # truth one segment [0,100); prediction splits at 50: best overlap 50/100
    assert covering([], [50], 100) == pytest.approx(0.5)
    assert covering([50], [], 100) == pytest.approx(0.5)


@pytest.mark.slow
def test_accuracy_targets_on_generated_world() -> None:
    """Issue targets on a generated world of 120 organisations (seed 2024): F1 >= 0.9
    (margin 3) for TVD >= 0.15 shifts in units with >= 20 cases a month, <= 5% false
    alarms on no-shift units, interval coverage >= 90%; context annotation targets."""
    from tipdrift.context import attach_context
    from tipdrift.detect import DriftDetector
    from tipdrift.series import build_series
    from tipdrift.testing.synth import SynthConfig, generate

    tables, truth = generate(SynthConfig(seed=2024, scale=5.0, arrests=100))
    det = DriftDetector().fit(build_series(tables["cases"]))
    ev = evaluate_mix_shifts(truth, det.shifts_)
    assert ev["eligible"]["f1"] >= 0.9, ev
    assert ev["false_alarm_rate"] <= 0.05, ev
    assert ev["no_change_units"] >= 20
    assert ev["interval_coverage"] >= 0.9, ev
    import polars as pl

    events = tables["context"].with_columns(pl.col("date").str.to_date(), pl.col("end_date").str.to_date(),
                                            pl.col("case_types").str.split(";"))
    attach_context(det.shifts_, events)
    ctx = evaluate_context(truth, det.shifts_)
    assert ctx["cause_attached"] >= 0.95, ctx
    assert ctx["uncaused_unexplained"] >= 0.9, ctx
