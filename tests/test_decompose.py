"""Decomposition of pooled shifts: exact sum, entry attribution, composition artefacts."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipdrift.decompose import decompose_share_change

weights = st.dictionaries(st.sampled_from("ABCDEFG"), st.floats(0.01, 1.0), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(w0=weights, w1=weights, seed=st.integers(0, 10_000))
def test_four_parts_sum_to_the_change_exactly(w0: dict, w1: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z0, z1 = sum(w0.values()), sum(w1.values())
    w0 = {k: v / z0 for k, v in w0.items()}
    w1 = {k: v / z1 for k, v in w1.items()}
    s0 = {k: float(rng.random()) for k in w0}
    s1 = {k: float(rng.random()) for k in w1}
    d = decompose_share_change(w0, s0, w1, s1)
    assert d["within"] + d["unit_mix"] + d["entering"] + d["leaving"] == pytest.approx(d["delta"], abs=1e-12)


def test_entering_unit_with_a_different_mix_explains_the_pooled_change() -> None:
    w0 = {"A": 0.5, "B": 0.5}
    s0 = {"A": 0.2, "B": 0.3}
    w1 = {"A": 0.3, "B": 0.3, "J": 0.4}  # J joins with a labour-heavy mix
    s1 = {"A": 0.2, "B": 0.3, "J": 0.8}
    d = decompose_share_change(w0, s0, w1, s1)
    assert d["within"] == pytest.approx(0.0)
    assert d["entering_units"] == ["J"]
    assert abs(d["entering"]) > abs(d["unit_mix"])


def test_joining_organisation_is_a_composition_artefact_in_the_synthetic_pool(synth_dir) -> None:
    import json

    from tipdrift.drift import run_drift

    truth = json.loads((synth_dir / "truth.json").read_text())
    from tipdrift.timeutil import month_index

    run = run_drift(synth_dir / "cases.parquet", pooled=True, context=synth_dir / "context_log")
    join = truth["case_mix"]["pooled_shifts"][0]["period"]
    pooled = [s for s in run.shifts if s.unit == "(pooled)" and s.kind == "mix"]
    near = [s for s in pooled if abs(month_index(s.period) - month_index(join)) <= 3]
    assert near, pooled
    dec = near[0].decomposition
    assert dec.entering_units == ["ORG_JOIN"]
    assert dec.attributed_to == "entering"
    assert dec.composition_artefact is True
    assert near[0].status == "artifact_compatible"
    assert dec.within + dec.unit_mix + dec.entering + dec.leaving == pytest.approx(dec.delta, abs=1e-12)
