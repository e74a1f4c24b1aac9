"""The one home of every parameter's default and validation.

`DriftParams` (detection) and `TrajectoryParams` (linkage and attrition) are plain data:
`to_dict`/`from_dict` round-trip through JSON and YAML like Splink's settings, and
`validate()` raises one `ParameterError` naming the parameter. The detector, `run_drift`,
the CLI, the report parameters and the notebooks' `parameters` cells all read them; the
report schemas below are built from them, so a default lives in exactly one place.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from tipdrift.errors import InputFileError, ParameterError

FREQS: tuple[str, ...] = ("month", "quarter", "year")
# Default minimum segment by frequency: half a year of months; three quarters or years
# (with 15 yearly points, 3 leaves years 3-12 open to a change; 6 would leave 6-9).
MIN_SIZE_BY_FREQ: dict[str, int] = {"month": 6, "quarter": 3, "year": 3}
MONTHS_PER_PERIOD: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
PENALTY_PRESETS: tuple[str, ...] = ("bic", "mbic")
DEFAULT_MAX_REJECTED = 0.05  # a source with a larger share of rows rejected stops a run


def check_share(value: float, name: str = "--max-rejected") -> float:
    """A share in [0, 1], or a ParameterError naming the option."""
    if not 0 <= value <= 1:
        raise ParameterError(f"{name} must be a share between 0 and 1, not {value}")
    return value
P = TypeVar("P", bound="_Params")


class _Params:
    """Shared plumbing: dict/JSON/YAML round trips with unknown keys rejected."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[P], data: dict[str, Any] | None) -> P:
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data or {}) - set(known))
        if unknown:
            raise ParameterError(f"unknown parameter '{unknown[0]}' for {cls.__name__}; known: {', '.join(known)}")
        return cls(**dict(data or {})).validate()  # type: ignore[call-arg]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls: type[P], text: str) -> P:
        return cls.from_dict(json.loads(text))

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls: type[P], path: str | Path) -> P:
        return cls.from_dict(read_yaml_mapping(path))

    def replace(self: P, **changes: Any) -> P:
        return dataclasses.replace(self, **changes).validate()  # type: ignore[type-var]


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) file of name: value pairs, with one clear error for anything else."""
    from tipdrift.mapping import read_yaml

    data = read_yaml(path, "parameter file")
    if not isinstance(data, dict):
        raise InputFileError(str(path), "parameter file must be a mapping of name: value")
    return data


def parse_penalty(value: str | float) -> str | float:
    """'bic', 'mbic' or a positive number (numeric strings become numbers)."""
    if isinstance(value, bool):
        raise ParameterError(f"penalty must be one of {', '.join(PENALTY_PRESETS)} or a positive number, not '{value}'")
    if isinstance(value, (int, float)):
        number = float(value)
    elif str(value).strip().lower() in PENALTY_PRESETS:
        return str(value).strip().lower()
    else:
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"penalty must be one of {', '.join(PENALTY_PRESETS)} or a positive number, "
                                 f"not '{value}'") from None
    if not number > 0:
        raise ParameterError(f"penalty must be positive, not {value}")
    return number


def check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise ParameterError(f"freq must be one of {', '.join(FREQS)}, not '{freq}'")
    return freq


@dataclass(frozen=True)
class DriftParams(_Params):
    """Detection settings (methods.md sections 2-5, 14)."""

    freq: str = "month"
    penalty: str | float = "mbic"
    min_size: int = 0  # minimum segment length in periods; 0: by freq (MIN_SIZE_BY_FREQ)
    alpha: float = 0.05  # level for the BH-adjusted p-value
    n_boot: int = 199  # bootstrap replicates per test
    max_boot: int = 9999  # p-values at the floor (0.01: no hit in a test's first 99) are refined up to this many
    seed: int = 0
    volume: bool = True  # also detect shifts in cases per period
    pooled: bool = False  # also analyse the all-units series and decompose its shifts
    reporting_lag: int = 0  # periods before as-of still incomplete, excluded
    overdispersion: bool = True
    dependence: bool = True  # estimate serial dependence and simulate it (methods.md 11)
    dependence_rho: float | None = None  # stated run dependence (latent AR(1) rho); None: pooled over the run
    min_effect: float = 0.0  # report only mix shifts whose lower 95% TVD bound reaches this
    min_cases_per_period: float = 1.0
    workers: int = 0  # threads over series (tipdrift.parallel); 0: one per core. Results do not depend on it

    @property
    def segment(self) -> int:
        """The minimum segment length in force (min_size, or the frequency's default)."""
        return self.min_size or MIN_SIZE_BY_FREQ[self.freq]

    def _check_dependence_rho(self) -> None:
        rho = self.dependence_rho
        if rho is None:
            return
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0 <= rho <= 0.95:
            raise ParameterError(f"dependence_rho (--dependence) must be a latent AR(1) rho in [0, 0.95], not '{rho}'")
        if not self.dependence or not self.overdispersion:
            raise ParameterError("dependence_rho (--dependence) states a serial dependence, but dependence or "
                                 "overdispersion is switched off")

    def validate(self) -> "DriftParams":
        check_freq(self.freq)
        object.__setattr__(self, "penalty", parse_penalty(self.penalty))
        for name in ("min_size", "n_boot", "max_boot", "seed", "reporting_lag", "workers"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), int):
                raise ParameterError(f"{name} must be a whole number, not '{getattr(self, name)}'")
        if self.min_size == 1 or self.min_size < 0:
            raise ParameterError("min_size must be at least 2 periods (or 0: by freq)")
        if not 0 <= self.min_effect < 1:
            raise ParameterError(f"min_effect must be a TVD in [0, 1), not {self.min_effect}")
        self._check_dependence_rho()
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be between 0 and 1, not {self.alpha}")
        if self.n_boot < 99:
            raise ParameterError("n_boot must be at least 99 (199 or more recommended)")
        if self.max_boot < self.n_boot:
            raise ParameterError("max_boot must be at least n_boot")
        if self.reporting_lag < 0:
            raise ParameterError("reporting_lag must be 0 or more periods")
        if self.workers < 0:
            raise ParameterError("workers must be 0 (one per core) or more")
        return self


OUTCOME_ORIGINS: tuple[str, ...] = ("conviction", "release")


@dataclass(frozen=True)
class TrajectoryParams(_Params):
    """Linkage windows and attrition settings (methods.md section 9)."""

    window_months: float = 24.0  # arrest <-> filing, both ways
    disposition_window_months: float = 60.0  # filing -> disposition
    horizon_months: float = 24.0
    by: str = ""  # group column for attrition, e.g. case_type
    rearrest_from: str = "conviction"

    def validate(self) -> "TrajectoryParams":
        for name in ("window_months", "disposition_window_months", "horizon_months"):
            if not float(getattr(self, name)) > 0:
                raise ParameterError(f"{name} must be positive, not {getattr(self, name)}")
        if self.rearrest_from not in OUTCOME_ORIGINS:
            raise ParameterError(f"rearrest_from must be one of {', '.join(OUTCOME_ORIGINS)}, not '{self.rearrest_from}'")
        return self


# ---------------------------------------------------------------- report parameters

# What each report exposes, beyond the detection or trajectory settings it shares.
_REPORT_OWN: dict[str, dict[str, Any]] = {
    "drift": {"data_dir": "data/synthetic", "table": "", "mapping": "", "unit_column": "", "context_dir": "context_log",
              "run_dir": "", "unit": "(pooled)", "start": "", "end": "", "as_of": "", "small_cell": 5,
              "max_rejected": DEFAULT_MAX_REJECTED},
    "trajectories": {"data_dir": "data/synthetic", "mapping": "", "linked_dir": "", "unit": "", "start": "", "end": "",
                     "as_of": "", "small_cell": 5, "max_rejected": DEFAULT_MAX_REJECTED},
}
_REPORT_SHARED: dict[str, tuple[type[_Params], tuple[str, ...], dict[str, Any]]] = {
    "drift": (DriftParams, ("freq", "penalty", "min_size", "alpha", "n_boot", "seed"), {}),
    "trajectories": (TrajectoryParams, ("horizon_months", "by"), {"by": "case_type"}),
}
REPORT_KINDS: tuple[str, ...] = tuple(_REPORT_OWN)


def report_defaults(kind: str) -> dict[str, Any]:
    """The parameters of one report and their defaults (the notebook's parameters cell)."""
    if kind not in _REPORT_OWN:
        raise ParameterError(f"report must be one of {', '.join(REPORT_KINDS)}, not '{kind}'")
    cls, names, overrides = _REPORT_SHARED[kind]
    shared = {k: v for k, v in cls().to_dict().items() if k in names}  # type: ignore[call-arg]
    return {**_REPORT_OWN[kind], **shared, **overrides}


def _coerce(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return str(value).lower() in ("1", "true", "yes")
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter '{name}': '{value}' is not a {type(default).__name__}") from None
    if name == "penalty":
        return parse_penalty(value)
    return "" if value is None else str(value)


def resolve_report_params(kind: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults overlaid with the given values, typed like the defaults and validated
    (unknown keys, types, dates, date order, freq, penalty, sizes). Units are checked
    against the data later, by the view."""
    defaults = report_defaults(kind)
    params = dict(defaults)
    for k, v in (given or {}).items():
        if k not in params:
            raise ParameterError(f"unknown parameter '{k}' for the {kind} report; known: {', '.join(params)}")
        params[k] = _coerce(k, v, defaults[k])
    _check_dates(params)
    if params["small_cell"] < 1:
        raise ParameterError("small_cell must be at least 1")
    check_share(params["max_rejected"], "max_rejected")
    cls, names, _ = _REPORT_SHARED[kind]
    cls.from_dict({k: params[k] for k in names})  # validates the shared settings
    return params


def detection_params(report: dict[str, Any], **extra: Any) -> DriftParams:
    """The DriftParams a drift report's parameters stand for."""
    _, names, _ = _REPORT_SHARED["drift"]
    return DriftParams.from_dict({**{k: report[k] for k in names}, **extra})


def _check_dates(p: dict[str, Any]) -> None:
    parsed = {}
    for k in ("start", "end", "as_of"):
        if p.get(k):
            try:
                parsed[k] = dt.date.fromisoformat(p[k])
            except ValueError:
                raise ParameterError(f"{k}: '{p[k]}' is not an ISO date (YYYY-MM-DD)") from None
    if "start" in parsed and "end" in parsed and parsed["start"] > parsed["end"]:
        raise ParameterError(f"bad date range: start {p['start']} is after end {p['end']}")
