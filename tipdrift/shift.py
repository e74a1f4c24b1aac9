"""Typed records for what drift detection hands to decomposition, context, review, views
and evaluation: a `Shift` holds period indices and dates (never ISO strings to re-parse),
its test, interval and effect, and what later steps attach (annotations, status,
decomposition). Values are kept at full precision; `to_json` rounds, and only there.

The shifts.json contract: `Shift.to_json()` writes the keys the document has always had
(unit, kind, period, ci, p_value, p_adjusted, replicates, statistic, phi, segment, before,
after, effect, annotations, status, and for pooled or annotated shifts decomposition,
unit_shifts, chance_rate) plus index fields that let `Shift.from_json` restore the record.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("explained", "artifact_compatible", "unexplained")


def _d(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value[:10])


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass
class Moved:
    """One category whose share moved: before and after shares and the change."""

    category: str
    before: float
    after: float
    change: float = float("nan")  # after - before, unless given (as read back from JSON)

    def __post_init__(self) -> None:
        if self.change != self.change:
            self.change = self.after - self.before

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "before": _r(self.before, 4), "after": _r(self.after, 4),
                "change": _r(self.change, 4)}


@dataclass
class Effect:
    """Size of a shift: total variation distance and the categories that moved most (mix),
    or the ratio of mean cases per period after to before (volume; None when before is 0)."""

    tvd: float | None = None
    moved: list[Moved] = field(default_factory=list)
    ratio: float | None = None
    ci: tuple[float, float] | None = None  # 95% bootstrap interval of the TVD (mix) or ratio (volume)
    # With an "unknown" (type not recorded) category: the change in its share, and the
    # shares before and after among the recorded types only.
    unknown_change: float | None = None
    known_before: dict[str, float] | None = None
    known_after: dict[str, float] | None = None

    @property
    def completeness_driven(self) -> bool:
        """Mostly a change in recording completeness: the unknown share moved by at least
        half the TVD (a pure completeness change, known types in fixed proportions, moves
        it by the whole TVD; a change among recorded types alone, by none of it)."""
        return bool(self.tvd and self.unknown_change is not None and abs(self.unknown_change) >= 0.5 * self.tvd)

    def to_json(self, kind: str) -> dict[str, Any]:
        ci = None if self.ci is None else [_r(self.ci[0], 4), _r(self.ci[1], 4)]
        if kind != "mix":
            return {"ratio": _r(self.ratio, 4), "ratio_ci": ci}
        out: dict[str, Any] = {"tvd": _r(self.tvd, 4), "moved": [m.to_json() for m in self.moved], "tvd_ci": ci}
        if self.unknown_change is not None:
            out |= {"unknown_change": _r(self.unknown_change, 4),
                    "known_before": {k: _r(v, 4) for k, v in (self.known_before or {}).items()},
                    "known_after": {k: _r(v, 4) for k, v in (self.known_after or {}).items()}}
        return out

    @classmethod
    def from_json(cls, kind: str, d: dict[str, Any]) -> "Effect":
        ci = d.get("tvd_ci" if kind == "mix" else "ratio_ci")
        ci = tuple(ci) if ci else None
        if kind == "mix":
            return cls(tvd=d.get("tvd"), moved=[Moved(m["category"], m["before"], m["after"], m["change"])
                                                     for m in d.get("moved", [])], ci=ci,
                       unknown_change=d.get("unknown_change"), known_before=d.get("known_before"),
                       known_after=d.get("known_after"))
        return cls(ratio=d.get("ratio"), ci=ci)


@dataclass
class Annotation:
    """A context event that qualifies for a shift, with its distance from the shift's date."""

    event_id: str
    kind: str
    unit: str
    date: dt.date
    lag_days: int
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "kind": self.kind, "unit": self.unit, "date": self.date.isoformat(),
                "lag_days": self.lag_days, "description": self.description}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Annotation":
        return cls(d["event_id"], d["kind"], d["unit"], _d(d["date"]), int(d["lag_days"]), d.get("description") or "")


@dataclass
class UnitShiftRef:
    """A unit-level shift near a pooled one: what the pooled change is made of."""

    unit: str
    period: dt.date
    status: str
    events: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "period": self.period.isoformat(), "status": self.status, "events": self.events}


@dataclass
class Decomposition:
    """A pooled shift split into within-unit change, unit mix, units entering and leaving
    (methods.md section 7). `unit_mix`, `category`, the shares, `fixed_weight_change`,
    `entry_exit_share` and `balanced_panel` apply to mix shifts only."""

    kind: str
    delta: float
    within: float
    entering: float
    leaving: float
    entering_units: list[str]
    leaving_units: list[str]
    continuing_units: int
    windows: list[tuple[dt.date, dt.date]]
    composition_artefact: bool
    attributed_to: str
    unit_mix: float | None = None
    category: str | None = None
    share_before: float | None = None
    share_after: float | None = None
    fixed_weight_change: float | None = None
    entry_exit_share: float | None = None
    balanced_panel: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        win = [[a.isoformat(), b.isoformat()] for a, b in self.windows]
        units = {"entering_units": self.entering_units, "leaving_units": self.leaving_units,
                 "continuing_units": self.continuing_units}
        if self.kind != "mix":
            return {"delta": _r(self.delta, 4), "within": _r(self.within, 4), "entering": _r(self.entering, 4),
                    "leaving": _r(self.leaving, 4), **units, "windows": win, "attributed_to": self.attributed_to,
                    "composition_artefact": self.composition_artefact}
        parts = {k: _r(getattr(self, k), 6) for k in ("share_before", "share_after", "delta", "within", "unit_mix",
                                                       "entering", "leaving")}
        return {**parts, **units, "category": self.category, "windows": win,
                "fixed_weight_change": _r(self.fixed_weight_change, 6), "balanced_panel": self.balanced_panel,
                "composition_artefact": self.composition_artefact, "attributed_to": self.attributed_to,
                "entry_exit_share": self.entry_exit_share}

    @classmethod
    def from_json(cls, kind: str, d: dict[str, Any]) -> "Decomposition":
        names = set(cls.__dataclass_fields__) - {"kind", "windows"}
        return cls(kind=kind, windows=[(_d(a), _d(b)) for a, b in d["windows"]],
                   **{k: v for k, v in d.items() if k in names})


@dataclass
class Shift:
    """One detected change point in one unit's series.

    Indices count periods of the unit's own series (0 = its first period); `index` is the
    first period of the new regime, `segment_index` the [start, end) segment it was tested
    on, `ci_index` the 95% location interval (inclusive). Dates are the periods' first days.
    """

    unit: str
    kind: str
    index: int
    segment_index: tuple[int, int]
    ci_index: tuple[int, int]
    period: dt.date
    segment: tuple[dt.date, dt.date]  # first and last period of the tested segment
    ci: tuple[dt.date, dt.date]
    statistic: float  # the test's: scan ratio / phi, or for a dependent mix studentised (inference.scan_statistic)
    p_value: float
    replicates: int
    phi: float
    before: dict[str, float]
    after: dict[str, float]
    effect: Effect
    p_adjusted: float | None = None
    shape: str = "step"  # step or gradual
    transition: tuple[dt.date, dt.date] | None = None  # first and last period of the change (step: period, period)
    transition_index: tuple[int, int] | None = None
    location_constrained: bool = False  # the date sits at a minimum-segment boundary: it may be earlier or later
    stability: float | None = None  # share of nearby penalty and min_size settings that still find it
    annotations: list[Annotation] = field(default_factory=list)
    status: str = "unexplained"
    status_reason: str | None = None  # why artifact_compatible without an event, e.g. "recording completeness"
    decomposition: Decomposition | None = None
    unit_shifts: list[UnitShiftRef] | None = None
    chance_rate: float | None = None
    annotated: bool = False  # context was attached (then chance_rate is part of the record)

    def effect_label(self, categories: int = 2) -> str:
        """'TVD 0.31 (forced_labour +0.25, other -0.20)' or 'volume x1.80' (one wording everywhere)."""
        ci = self.effect.ci
        if self.kind == "mix":
            moved = ", ".join(f"{m.category} {m.change:+.2f}" for m in self.effect.moved[:categories])
            span = f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else ""
            return f"TVD {self.effect.tvd:.2f}{span}" + (f" ({moved})" if moved else "")
        if self.effect.ratio is None:
            return "volume (no cases before)"
        return f"volume x{self.effect.ratio:.2f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "")

    def to_json(self) -> dict[str, Any]:
        digits = 4 if self.kind == "mix" else 3
        out: dict[str, Any] = {
            "unit": self.unit, "kind": self.kind, "period": self.period.isoformat(),
            "ci": [self.ci[0].isoformat(), self.ci[1].isoformat()],
            "p_value": _r(self.p_value, 6), "p_adjusted": _r(self.p_adjusted, 6), "replicates": self.replicates,
            "statistic": _r(self.statistic, 4), "phi": _r(self.phi, 4),
            "segment": [self.segment[0].isoformat(), self.segment[1].isoformat()],
            "index": self.index, "segment_index": list(self.segment_index), "ci_index": list(self.ci_index),
            "before": {k: _r(v, digits) for k, v in self.before.items()},
            "after": {k: _r(v, digits) for k, v in self.after.items()},
            "effect": self.effect.to_json(self.kind),
            "shape": self.shape, "transition": [d.isoformat() for d in (self.transition or (self.period, self.period))],
            "transition_index": list(self.transition_index or (self.index, self.index)),
            "location_constrained": self.location_constrained, "stability": _r(self.stability, 4),
            "annotations": [a.to_json() for a in self.annotations], "status": self.status,
        }
        if self.status_reason:
            out["status_reason"] = self.status_reason
        if self.decomposition is not None:
            out["decomposition"] = self.decomposition.to_json()
        if self.unit_shifts is not None:
            out["unit_shifts"] = [u.to_json() for u in self.unit_shifts]
        if self.annotated:
            out["chance_rate"] = _r(self.chance_rate, 4)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Shift":
        kind = d["kind"]
        dec = d.get("decomposition")
        return cls(
            unit=d["unit"], kind=kind, index=int(d["index"]), segment_index=tuple(d["segment_index"]),
            ci_index=tuple(d["ci_index"]), period=_d(d["period"]), segment=(_d(d["segment"][0]), _d(d["segment"][1])),
            ci=(_d(d["ci"][0]), _d(d["ci"][1])), statistic=d["statistic"], p_value=d["p_value"],
            replicates=int(d["replicates"]), phi=d["phi"], before=dict(d["before"]), after=dict(d["after"]),
            effect=Effect.from_json(kind, d["effect"]), p_adjusted=d.get("p_adjusted"), shape=d.get("shape", "step"),
            transition=(_d(d["transition"][0]), _d(d["transition"][1])) if d.get("transition") else None,
            transition_index=tuple(d["transition_index"]) if d.get("transition_index") else None,
            location_constrained=bool(d.get("location_constrained", False)), stability=d.get("stability"),
            annotations=[Annotation.from_json(a) for a in d.get("annotations", [])], status=d.get("status", "unexplained"),
            status_reason=d.get("status_reason"),
            decomposition=Decomposition.from_json(kind, dec) if dec else None,
            unit_shifts=[UnitShiftRef(u["unit"], _d(u["period"]), u["status"], list(u["events"]))
                         for u in d["unit_shifts"]] if "unit_shifts" in d else None,
            chance_rate=d.get("chance_rate"), annotated="chance_rate" in d,
        )


@dataclass
class SeriesStatus:
    """One unit's series: whether it was analysed (and why not), its span and overdispersion."""

    unit: str
    periods: int
    cases: int
    status: str
    reason: str | None
    first_period: dt.date
    last_period: dt.date
    phi_mix: float | None = None
    phi_volume: float | None = None
    dependence_mix: float | None = None  # rho in force for the mix: its own, or the run's floor (a lone bound) if higher
    dependence_volume: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "periods": self.periods, "cases": self.cases, "status": self.status,
                "reason": self.reason, "first_period": self.first_period.isoformat(),
                "last_period": self.last_period.isoformat(), "phi_mix": _r(self.phi_mix, 4),
                "phi_volume": _r(self.phi_volume, 4), "dependence": _r(self.dependence_mix, 4),
                "dependence_volume": _r(self.dependence_volume, 4)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SeriesStatus":
        return cls(d["unit"], int(d["periods"]), int(d["cases"]), d["status"], d.get("reason"),
                   _d(d["first_period"]), _d(d["last_period"]), d.get("phi_mix"), d.get("phi_volume"),
                   d.get("dependence"), d.get("dependence_volume"))
