"""Parameters: one home for defaults and validation, round-tripping JSON and YAML."""
from __future__ import annotations

import pytest

from tipdrift.errors import InputFileError, ParameterError
from tipdrift.params import DriftParams, TrajectoryParams, report_defaults, resolve_report_params


def test_round_trip_json_and_yaml(tmp_path) -> None:
    """Settings written and read back are equal, and a numeric penalty given as text reads
    as a number. Catches a field dropped or mistyped on the way through a file."""
    p = DriftParams(freq="year", penalty="3.5", min_size=3, dependence=False, min_effect=0.1).validate()
    assert p.penalty == 3.5
    assert DriftParams.from_json(p.to_json()) == p
    p.to_yaml(tmp_path / "drift.yaml")
    assert DriftParams.from_yaml(tmp_path / "drift.yaml") == p
    t = TrajectoryParams(window_months=18, by="case_type")
    assert TrajectoryParams.from_dict(t.to_dict()) == t


def test_bad_settings_name_the_parameter(tmp_path) -> None:
    """Each bad value stops with one message naming the parameter; an unknown key is named
    too. Catches validation that lets a typo fall back to a default silently."""
    for bad, word in (({"min_size": 1}, "min_size"), ({"alpha": 2}, "alpha"), ({"penalty": "aic"}, "penalty"),
                      ({"freq": "week"}, "freq"), ({"n_boot": 10}, "n_boot"), ({"colour": "red"}, "colour")):
        with pytest.raises(ParameterError, match=word):
            DriftParams.from_dict(bad)
    (tmp_path / "x.yaml").write_text("- a list\n")
    with pytest.raises(InputFileError, match="mapping"):
        DriftParams.from_yaml(tmp_path / "x.yaml")


def test_min_size_follows_the_frequency() -> None:
    """min_size 0 means: 6 months, 3 quarters, 3 years; an explicit value wins. Catches a
    monthly minimum applied to yearly data."""
    assert [DriftParams(freq=f).segment for f in ("month", "quarter", "year")] == [6, 3, 3]
    assert DriftParams(freq="year", min_size=4).segment == 4


def test_report_parameters_share_the_defaults() -> None:
    """A drift report's detection parameters are DriftParams' defaults, typed like them."""
    d = report_defaults("drift")
    assert (d["penalty"], d["alpha"], d["n_boot"], d["min_size"]) == ("mbic", 0.05, 199, 0)
    assert resolve_report_params("drift", {"alpha": "0.01", "penalty": "12"})["penalty"] == 12.0
    with pytest.raises(ParameterError, match="start"):
        resolve_report_params("drift", {"start": "2020-01-01", "end": "2019-01-01"})
