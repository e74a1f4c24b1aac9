"""Attrition of arrest cohorts with competing outcomes, right-censoring and re-arrest.

Follows methods.md section 9. The cohort is the year of the entry event (arrest), and
every figure follows the same people: never this year's convictions over this year's
prosecutions. Conviction, dismissal and acquittal compete; a case still open at the
as-of date is censored there. Cumulative incidence comes from statsmodels'
CumIncidenceRight (1 - Kaplan-Meier per outcome would overstate each one); times to a
step and re-arrest from SurvfuncRight. A cohort with less follow-up than the horizon is
marked provisional, and `estimated_at_months` says how far its figures really reach
(the longest follow-up in the cohort, if shorter than the horizon). Trajectories that enter at filing (no arrest record) form their own
entry stage, with cohorts by filing year.

Intervals: 95% by default, on the log(-log) scale for 0 < F < 1; for F = 0 or 1 the exact
binomial bound for the cohort size.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from statsmodels.duration.survfunc import CumIncidenceRight, SurvfuncRight

from tipdrift.errors import ParameterError
from tipdrift.privacy import DEFAULT_THRESHOLD
from tipdrift.timeutil import MONTH_DAYS

OUTCOMES = ("convicted", "dismissed", "acquitted")
SENTENCE_BANDS = (0, 12, 60, 120)


def _z(alpha: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / 2)


BOUNDARY = 1e-9  # estimates this close to 0 or 1 are at the boundary (0.9999999999999996 is 1)


def wilson(est: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval: inside [0, 1] and informative for any n >= 1."""
    centre = (est + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(est * (1 - est) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def interval(est: float, se: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """A (1 - alpha) interval for a probability estimate with standard error `se`, `n` at
    risk: log-log transformed; at 0 or 1 the exact one-sided (Clopper-Pearson) bound; where
    the standard error is missing, zero or the transform degenerates, Wilson's. Never the
    uninformative [0, 1] around an estimate of 0 or 1."""
    if n <= 0:
        return (float("nan"), float("nan"))
    if est <= BOUNDARY:
        return (0.0, float(1 - (alpha / 2) ** (1 / n)))
    if est >= 1 - BOUNDARY:
        return (float((alpha / 2) ** (1 / n)), 1.0)
    z = _z(alpha)
    if not np.isfinite(se) or se <= 0:
        return wilson(est, n, z)
    s = se / (est * abs(np.log(est)))
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = float(est ** np.exp(z * s)), float(est ** np.exp(-z * s))
    if not (np.isfinite(lo) and np.isfinite(hi)) or (lo <= 0.0 and hi >= 1.0):
        return wilson(est, n, z)
    return (lo, hi)


def _cif(time: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    if not (status > 0).any():
        return np.array([]), [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ci = CumIncidenceRight(time.astype(float), status.astype(int))
    return ci.times, ci.cinc, ci.cinc_se


def cif_curve(time: np.ndarray, status: np.ndarray, points: np.ndarray, n_causes: int) -> np.ndarray:
    """CIF of causes 1..n_causes at each of `points`: array (n_causes, len(points))."""
    times, cinc, _ = _cif(time, status)
    idx = np.searchsorted(times, points, side="right") - 1
    out = np.zeros((n_causes, len(points)))
    for j in range(min(n_causes, len(cinc))):
        out[j] = np.where(idx >= 0, cinc[j][np.maximum(idx, 0)], 0.0)
    return out


@dataclass(frozen=True)
class Clusters:
    """Cluster labels of the records (their court case), for cluster-bootstrap intervals."""

    labels: np.ndarray
    replicates: int = 200
    seed: int = 0

    @property
    def count(self) -> int:
        return int(len(np.unique(self.labels)))


def cumulative_incidence(time: np.ndarray, status: np.ndarray, horizon: float, n_causes: int,
                         alpha: float = 0.05, clusters: Clusters | None = None) -> list[dict[str, float]]:
    """CIF of each cause 1..n_causes at `horizon` (competing risks; status 0 = censored).

    With `clusters`, standard errors come from a cluster bootstrap (whole cases resampled)
    and boundary intervals count clusters, not records, as the number at risk."""
    from tipdrift.cluster import clustered_se

    n = len(time)
    out = []
    if n == 0:
        return [{"estimate": None, "ci_low": None, "ci_high": None} for _ in range(n_causes)]
    times, cinc, se = _cif(time, status)
    idx = int(np.searchsorted(times, horizon, side="right")) - 1
    boot = None if clusters is None else clustered_se(time, status, horizon, n_causes, clusters.labels,
                                                      clusters.replicates, clusters.seed)
    n_eff = n if clusters is None else clusters.count
    for j in range(n_causes):
        if j < len(cinc) and idx >= 0:
            est, s = float(cinc[j][idx]), float(se[j][idx])
        else:
            est, s = 0.0, float("nan")
        if boot is not None:
            s = float(boot[j])
        lo, hi = interval(est, s, n_eff, alpha)
        out.append({"estimate": round(est, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)})
    return out


def _median(time: np.ndarray, event: np.ndarray, alpha: float) -> dict[str, Any]:
    if len(time) == 0 or not event.any():
        return {"n": int(len(time)), "events": int(event.sum()), "median_months": None, "ci_low": None, "ci_high": None}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        sf = SurvfuncRight(time.astype(float), event.astype(int))
        med = sf.quantile(0.5)
        try:
            lo, hi = sf.quantile_ci(0.5, alpha=alpha)
        except Exception:  # too few events for an interval
            lo = hi = float("nan")

    def r(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 2)

    return {"n": int(len(time)), "events": int(event.sum()), "median_months": r(med), "ci_low": r(lo), "ci_high": r(hi)}


def _days_to_months(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_days() / MONTH_DAYS


def latest_date(trajectories: pl.DataFrame) -> dt.date:
    """The latest date in the trajectories, an imprecise one read as its interval's end (a
    termination year 2021 is known up to 2021-12-31, not only to 1 January)."""
    from tipdrift.load import interval_end

    def last(c: str) -> pl.Expr:
        p = f"{c}_precision"
        return (interval_end(pl.col(c), pl.col(p).cast(pl.String)) if p in trajectories.columns else pl.col(c)).max()

    cols = [c for c in ("arrest_date", "filing_date", "disposition_date", "next_arrest_date") if c in trajectories.columns]
    return trajectories.select(pl.max_horizontal([last(c) for c in cols])).item()


DATE_CONVENTIONS: tuple[str, ...] = ("midpoint", "start", "end")
_DATES = ("arrest_date", "filing_date", "disposition_date")


def imprecise_dates(trajectories: pl.DataFrame) -> int:
    """How many dates in the trajectories are known only to the month or year."""
    cols = [f"{c}_precision" for c in _DATES if f"{c}_precision" in trajectories.columns]
    if not cols:
        return 0
    return int(trajectories.select(pl.sum_horizontal(pl.col(c).is_in(["month", "year"]).fill_null(False) for c in cols)
                                   .sum()).item())


def place_dates(trajectories: pl.DataFrame, convention: str) -> pl.DataFrame:
    """Each imprecise date placed at its interval's midpoint, start or end (the convention
    for durations; `AttritionFitter` reports how far the figures move between the ends)."""
    from tipdrift.load import interval_end

    if convention not in DATE_CONVENTIONS:
        raise ParameterError(f"date_convention must be one of {', '.join(DATE_CONVENTIONS)}, not '{convention}'")
    exprs = []
    for c in _DATES:
        if f"{c}_precision" not in trajectories.columns or convention == "start":
            continue
        end = interval_end(pl.col(c), pl.col(f"{c}_precision").cast(pl.String))
        exprs.append((end if convention == "end" else pl.col(c) + (end - pl.col(c)) / 2).cast(pl.Date).alias(c))
    return trajectories.with_columns(exprs) if exprs else trajectories


def _entry_times(trajectories: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Entries by as-of with cohort, follow-up, months to each step, and outcome codes."""
    t = trajectories.filter(pl.col("entry_stage").is_in(["arrest", "prosecution"])).with_columns(
        pl.when(pl.col("entry_stage") == "arrest").then(pl.col("arrest_date")).otherwise(pl.col("filing_date")).alias("entry_date"))
    t = t.filter(pl.col("entry_date") <= as_of)
    seen_filing = pl.col("filing_date").is_not_null() & (pl.col("filing_date") <= as_of)
    seen_disp = pl.col("disposition_date").is_not_null() & (pl.col("disposition_date") <= as_of)
    return t.with_columns(
        pl.col("entry_date").dt.year().alias("cohort"),
        _days_to_months(pl.lit(as_of) - pl.col("entry_date")).alias("follow"),
        _days_to_months(pl.col("filing_date") - pl.col("entry_date")).clip(lower_bound=0).alias("t_filing"),
        _days_to_months(pl.col("filing_date") - pl.col("entry_date")).alias("gap_filing"),  # < 0: charged first
        _days_to_months(pl.col("disposition_date") - pl.col("entry_date")).clip(lower_bound=0).alias("t_disp"),
        _days_to_months(pl.col("disposition_date") - pl.col("filing_date")).clip(lower_bound=0).alias("t_court"),
        _days_to_months(pl.lit(as_of) - pl.col("filing_date")).alias("t_open"),
        seen_filing.alias("filed"), seen_disp.alias("disposed"),
        pl.col("outcome").replace_strict({o: i + 1 for i, o in enumerate(OUTCOMES)}, default=0,
                                         return_dtype=pl.Int64).alias("code"),
    )


def _cohort_curves(stage: str, cohort: int, time: np.ndarray, status: np.ndarray,
                   grid: np.ndarray) -> list[dict[str, Any]]:
    """Cumulative incidence of each outcome at each month of `grid`, one record per point."""
    cif = cif_curve(time, status, grid, 3)
    curves: list[dict[str, Any]] = []
    for j, name in enumerate(OUTCOMES):
        curves += [{"entry_stage": stage, "cohort": int(cohort), "outcome": name, "months": float(m),
                    "estimate": round(float(v), 4)} for m, v in zip(grid, cif[j])]
    return curves


@dataclass
class AttritionFitter:
    """Cohort attrition: configure, `fit(trajectories)`, read `cohorts_`, `durations_`.

    `by`: an optional grouping column (case_type, jurisdiction); the group "all" is
    always reported. `as_of`: the date open cases are censored at (default: the latest
    date in the data).
    """

    horizon_months: float = 24
    by: str | None = None
    as_of: dt.date | None = None
    alpha: float = 0.05
    date_convention: str = "midpoint"  # where a month- or year-only date sits in its interval
    cluster: str | None = "case_id"  # resample whole cases for intervals when this column has values
    replicates: int = 200  # cluster-bootstrap replicates
    seed: int = 0

    as_of_: dt.date | None = field(default=None, init=False)
    imprecise_: dict[str, Any] | None = field(default=None, init=False, repr=False)
    nested_: bool = field(default=False, init=False, repr=False)  # a refit inside the sensitivity check
    uncertainty_: str = field(default="", init=False)  # how the intervals were computed, for reports
    _clustered: str | None = field(default=None, init=False, repr=False)
    cohorts_: pl.DataFrame | None = field(default=None, init=False, repr=False)
    durations_: pl.DataFrame | None = field(default=None, init=False, repr=False)
    curves_: pl.DataFrame | None = field(default=None, init=False, repr=False)

    def fit(self, trajectories: pl.DataFrame) -> "AttritionFitter":
        """Estimate per-cohort attrition, stage durations and CIF curves from linked trajectories."""
        if self.horizon_months <= 0:
            raise ParameterError("horizon_months must be positive")
        if self.by is not None and self.by not in trajectories.columns:
            raise ParameterError(f"--by column '{self.by}' is not in the trajectories")
        as_of = self.as_of or latest_date(trajectories)
        self.as_of_ = as_of
        t = _entry_times(place_dates(trajectories, self.date_convention), as_of)
        self._clustered = self._cluster_column(t)
        self.uncertainty_ = uncertainty_text(self._clustered, t, self.replicates)
        groups = self._groups(t)
        h = float(self.horizon_months)
        rows: list[dict[str, Any]] = []
        durs: list[dict[str, Any]] = []
        curves: list[dict[str, Any]] = []
        grid = np.arange(0.0, h + 1e-9, 1.0)
        for stage in ("arrest", "prosecution"):
            st = t.filter(pl.col("entry_stage") == stage)
            for cohort in st.get_column("cohort").unique().sort().to_list():
                c = st.filter(pl.col("cohort") == cohort)
                provisional = bool(_days_to_months_py(as_of - dt.date(cohort, 12, 31)) < h)
                for gname, gexpr in groups:
                    g = c.filter(gexpr)
                    if g.height == 0:
                        continue
                    row, time, status = self._group_row(stage, int(cohort), gname, g, h, provisional)
                    rows.append(row)
                    if gname == "all":
                        curves += _cohort_curves(stage, int(cohort), time, status, grid)
                        durs.append(self._cohort_durations(stage, int(cohort), g, provisional))
        self.cohorts_ = pl.DataFrame(rows)
        self.durations_ = pl.DataFrame(durs)
        self.curves_ = pl.DataFrame(curves)
        self.imprecise_ = self._sensitivity(trajectories, as_of)
        return self

    def _sensitivity(self, trajectories: pl.DataFrame, as_of: dt.date) -> dict[str, Any] | None:
        """With month- or year-only dates: the figures refitted with every such date at its
        interval's start and at its end, and the largest change of any share (in points)."""
        n = 0 if self.nested_ else imprecise_dates(trajectories)
        if not n:
            return None
        keys = ["entry_stage", "cohort", "group"]
        shares = ["prosecuted", *OUTCOMES]
        # rows of fewer than the small-cell threshold are left out (one person moves a share by 100 points)
        main = self.cohorts_.filter(pl.col("entries") >= DEFAULT_THRESHOLD).select(
            *keys, *[pl.col(c).struct.field("estimate").alias(c) for c in shares])
        moves = []
        for conv in ("start", "end"):
            alt = AttritionFitter(self.horizon_months, self.by, as_of, self.alpha, conv, cluster=None)
            alt.nested_ = True
            alt.fit(trajectories)
            other = alt.cohorts_.select(*keys, *[pl.col(c).struct.field("estimate").alias(f"{c}_alt") for c in shares])
            j = main.join(other, on=keys, how="inner")
            moves.append(j.select(pl.max_horizontal((pl.col(c) - pl.col(f"{c}_alt")).abs() for c in shares)).to_series())
        worst = float(pl.concat(moves).max() or 0.0)
        return {"dates": n, "convention": self.date_convention, "max_change_points": round(100 * worst, 1),
                "note": f"{n} dates are known only to the month or year; durations place them at the interval's "
                        f"{self.date_convention}; placing them at its start or end moves a cohort share (cohorts of "
                        f"{DEFAULT_THRESHOLD} or more) by up to {100 * worst:.1f} points"}

    def _cluster_column(self, t: pl.DataFrame) -> str | None:
        """The cluster column when it is present and holds values (else intervals are per defendant)."""
        if self.cluster and self.cluster in t.columns and t.get_column(self.cluster).is_not_null().any():
            return self.cluster
        return None

    def _clusters(self, g: pl.DataFrame) -> Clusters | None:
        if not self._clustered:
            return None
        from tipdrift.cluster import cluster_ids

        return Clusters(cluster_ids(g.get_column(self._clustered).to_numpy(), g.get_column("trajectory_id").to_numpy()),
                        self.replicates, self.seed)

    def _median(self, g: pl.DataFrame, time: np.ndarray, event: np.ndarray) -> dict[str, Any]:
        """Kaplan-Meier median with its interval: per defendant, or from a cluster bootstrap
        over cases (percentile interval) when the cluster column holds values."""
        out = _median(time, event, self.alpha)
        clusters = self._clusters(g)
        if clusters is not None and out["median_months"] is not None:
            from tipdrift.cluster import clustered_median_ci

            lo, hi = clustered_median_ci(time, event, clusters.labels, self.alpha, clusters.replicates, clusters.seed)
            out.update(ci_low=None if np.isnan(lo) else round(lo, 2), ci_high=None if np.isnan(hi) else round(hi, 2))
        return out

    def _groups(self, t: pl.DataFrame) -> list[tuple[str, pl.Expr]]:
        """The groups to report: "all", then each value of the `by` column in sorted order."""
        groups: list[tuple[str, pl.Expr]] = [("all", pl.lit(True))]
        if self.by:
            groups += [(str(g), pl.col(self.by) == g) for g in t.get_column(self.by).drop_nulls().unique().sort().to_list()]
        return groups

    def _group_row(self, stage: str, cohort: int, gname: str, g: pl.DataFrame, h: float,
                   provisional: bool) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """One cohort-and-group row (prosecuted, outcome CIFs, follow-up, links); also its CIF times and status."""
        follow = g.get_column("follow").to_numpy()
        filed = g.get_column("filed").to_numpy()
        disposed = g.get_column("disposed").to_numpy()
        row: dict[str, Any] = {"entry_stage": stage, "cohort": int(cohort), "group": gname, "entries": g.height}
        clusters = self._clusters(g)
        if stage == "arrest":
            time = np.where(filed, g.get_column("t_filing").fill_null(0).to_numpy(), follow)
            row["prosecuted"] = cumulative_incidence(time, filed.astype(int), h, 1, self.alpha, clusters)[0]
            events = {"prosecuted": int((filed & (time <= h)).sum())}
        else:
            row["prosecuted"] = {"estimate": 1.0, "ci_low": 1.0, "ci_high": 1.0}
            events = {"prosecuted": g.height}
        time = np.where(disposed, g.get_column("t_disp").fill_null(0).to_numpy(), follow)
        status = np.where(disposed, g.get_column("code").to_numpy(), 0)
        for k, (name, val) in enumerate(zip(OUTCOMES, cumulative_incidence(time, status, h, 3, self.alpha, clusters))):
            row[name] = val
            events[name] = int(((status == k + 1) & (time <= h)).sum())
        # people behind each estimate (observed within the horizon): reports suppress 1 to threshold - 1
        row["events"] = events
        row["provisional"] = bool(provisional)
        # Beyond the longest follow-up nothing is observed: say where the figure stands.
        row["estimated_at_months"] = round(min(h, float(follow.max())), 1)
        links = g.get_column("prosecution_link").value_counts()
        lk = dict(links.iter_rows())
        row["links"] = {"key": int(lk.get("key", 0)), "person_window": int(lk.get("person_window", 0)),
                        "none": int(lk.get("none", 0))}
        return row, time, status

    def _cohort_durations(self, stage: str, cohort: int, g: pl.DataFrame, provisional: bool) -> dict[str, Any]:
        """Median months from arrest to filing (arrests that came first) and from filing to
        disposition for one cohort; filings before the arrest (an indictment first) are
        counted apart with their own median lead, not clipped to a gap of 0."""
        pros = g.filter(pl.col("filed"))
        first = pros.filter(pl.col("gap_filing") >= 0)
        charged = pros.filter(pl.col("gap_filing") < 0)
        d1 = self._median(first, first.get_column("t_filing").to_numpy(), np.ones(first.height, bool))
        lead = self._median(charged, -charged.get_column("gap_filing").to_numpy(), np.ones(charged.height, bool))
        lead["share"] = round(charged.height / pros.height, 4) if pros.height else None
        court_t = np.where(pros.get_column("disposed").to_numpy(), pros.get_column("t_court").fill_null(0).to_numpy(),
                           pros.get_column("t_open").to_numpy())
        d2 = self._median(pros, court_t, pros.get_column("disposed").to_numpy())
        return {"entry_stage": stage, "cohort": int(cohort), "arrest_to_filing": d1, "filing_before_arrest": lead,
                "filing_to_disposition": d2, "provisional": bool(provisional)}

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of_.isoformat(), "horizon_months": self.horizon_months, "alpha": self.alpha,
                "by": self.by, "date_convention": self.date_convention, "imprecise_dates": self.imprecise_,
                "uncertainty": self.uncertainty_,
                "cohorts": self.cohorts_.to_dicts(), "durations": self.durations_.to_dicts()}

    def table(self) -> pl.DataFrame:
        """Percentages for printing: one row per cohort and group."""
        c = self.cohorts_
        return c.select(
            "entry_stage", "cohort", "group", "entries",
            *[(pl.col(o).struct.field("estimate") * 100).round(1).alias(f"{o} %") for o in ("prosecuted", *OUTCOMES)],
            pl.when(pl.col("provisional"))
            .then(pl.format("provisional (at {} months)", pl.col("estimated_at_months")))
            .otherwise(pl.lit("")).alias("note"),
            (pl.col("links").struct.field("person_window") / pl.col("entries") * 100).round(1).alias("window-linked %"),
        )


def uncertainty_text(column: str | None, t: pl.DataFrame, replicates: int) -> str:
    """How the intervals were computed, in a sentence a report can print."""
    if column is None:
        return ("95% intervals per defendant (no case_id on the prosecutions: co-defendants' correlated outcomes "
                "are not accounted for, so intervals may be too narrow)")
    cases = t.get_column(column).drop_nulls().n_unique()
    return (f"95% intervals from a cluster bootstrap over {column} ({cases} cases, {replicates} replicates): "
            "co-defendants of one case are resampled together")


def _days_to_months_py(delta: dt.timedelta) -> float:
    return delta.days / MONTH_DAYS


def _km_at(times: np.ndarray, surv: np.ndarray, se: np.ndarray, x: float) -> tuple[float, float]:
    """1 - S(x) and its standard error from a Kaplan-Meier step function."""
    i = int(np.searchsorted(times, x, side="right")) - 1
    return (0.0, float("nan")) if i < 0 else (1 - float(surv[i]), float(se[i]))


def _band(lo: float, hi: float | None) -> pl.Expr:
    """Sentence months in [lo, hi) (hi None: no upper bound)."""
    sel = pl.col("sentence_months") >= lo
    return sel if hi is None else sel & (pl.col("sentence_months") < hi)


def _band_label(lo: float, hi: float | None) -> str:
    return f"{int(lo)}+ months" if hi is None else f"{int(lo)}-{int(hi)} months"


@dataclass
class RearrestFitter:
    """Re-arrest after conviction by sentence-length band (Kaplan-Meier, censored at as-of).

    Time runs from the conviction (`from_release=False`, as asked) or from the expected
    release (conviction + sentence): a long sentence leaves less time at liberty, so
    from-conviction figures partly measure incarceration, not behaviour.
    """

    horizon_months: float = 24
    bands: tuple[float, ...] = SENTENCE_BANDS
    from_release: bool = False
    as_of: dt.date | None = None
    alpha: float = 0.05
    cluster: str | None = "case_id"  # resample whole cases for intervals when this column has values
    replicates: int = 200
    seed: int = 0

    table_: pl.DataFrame | None = field(default=None, init=False, repr=False)
    curve_: pl.DataFrame | None = field(default=None, init=False, repr=False)
    observed_: bool = field(default=False, init=False, repr=False)
    arrests_cover_until_: dt.date | None = field(default=None, init=False, repr=False)

    def fit(self, trajectories: pl.DataFrame) -> "RearrestFitter":
        as_of = self.as_of or latest_date(trajectories)
        conv = trajectories.filter((pl.col("outcome") == "convicted") & pl.col("disposition_date").is_not_null()
                                   & (pl.col("disposition_date") <= as_of))
        start = pl.col("disposition_date")
        if self.from_release:
            start = start + pl.duration(days=(pl.col("sentence_months").fill_null(0) * MONTH_DAYS).round(0).cast(pl.Int64))
        conv = conv.with_columns(start.alias("start")).filter(pl.col("start") <= as_of)
        event = pl.col("next_arrest_date").is_not_null() & (pl.col("next_arrest_date") <= as_of)
        conv = conv.with_columns(
            event.alias("event"),
            pl.when(event).then(_days_to_months(pl.col("next_arrest_date") - pl.col("start")))
            .otherwise(_days_to_months(pl.lit(as_of) - pl.col("start"))).clip(lower_bound=0).alias("time"))
        edges = list(self.bands) + [None]
        rows, curve = [], []
        groups = [(_band_label(lo, hi), _band(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:])]
        groups.append(("no sentence recorded", pl.col("sentence_months").is_null()))
        for label, sel in groups:
            row, points = self._band_row(conv.filter(sel), label)
            rows.append(row)
            curve += points
        self.table_ = pl.DataFrame(rows)
        self.curve_ = pl.DataFrame(curve, schema={"band": pl.String, "months": pl.Float64, "rearrested": pl.Float64})
        # Re-arrest is seen only if the arrests table holds arrests after earlier matters.
        self.observed_ = bool(trajectories.get_column("next_arrest_date").is_not_null().any())
        last_arrest = trajectories.get_column("arrest_date").max()
        self.arrests_cover_until_ = last_arrest
        return self

    def _band_row(self, g: pl.DataFrame, label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One band's count, re-arrests seen by the as-of date, and the Kaplan-Meier share
        re-arrested within the horizon with its interval and curve."""
        grid = np.arange(0, self.horizon_months + 1e-9, 3.0)
        n = g.height
        row: dict[str, Any] = {"band": label, "convicted": n,
                               "rearrested_by_as_of": int(g.get_column("event").sum()) if n else 0}
        curve = []
        if n and g.get_column("event").any():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                sf = SurvfuncRight(g.get_column("time").to_numpy(), g.get_column("event").to_numpy().astype(int))
            times, surv, se = sf.surv_times, sf.surv_prob, sf.surv_prob_se
            est, s = _km_at(times, surv, se, self.horizon_months)
            s, n_eff = self._clustered_se(g, s, n)
            lo_ci, hi_ci = interval(est, s, n_eff, self.alpha)
            curve = [{"band": label, "months": float(x), "rearrested": round(_km_at(times, surv, se, float(x))[0], 4)}
                     for x in grid]
        else:
            est = 0.0
            lo_ci, hi_ci = interval(0.0, float("nan"), n, self.alpha) if n else (None, None)
            curve = [{"band": label, "months": float(x), "rearrested": 0.0} for x in grid] if n else []
        row.update(estimate=round(est, 4), ci_low=None if lo_ci is None else round(lo_ci, 4),
                   ci_high=None if hi_ci is None else round(hi_ci, 4))
        return row, curve

    def _clustered_se(self, g: pl.DataFrame, se: float, n: int) -> tuple[float, int]:
        """(standard error, number at risk): from a cluster bootstrap over cases when the
        cluster column holds values, else as given."""
        if not (self.cluster and self.cluster in g.columns and g.get_column(self.cluster).is_not_null().any()):
            return se, n
        from tipdrift.cluster import cluster_ids, clustered_se

        labels = cluster_ids(g.get_column(self.cluster).to_numpy(), g.get_column("trajectory_id").to_numpy())
        boot = clustered_se(g.get_column("time").to_numpy(), g.get_column("event").to_numpy().astype(int),
                            self.horizon_months, 1, labels, self.replicates, self.seed)
        return float(boot[0]), int(len(np.unique(labels)))

    def to_dict(self) -> dict[str, Any]:
        cover = self.arrests_cover_until_
        return {"from": "release" if self.from_release else "conviction", "horizon_months": self.horizon_months,
                "rearrest_observed": self.observed_,
                "arrests_cover_until": cover.isoformat() if cover else None,
                "bands": self.table_.to_dicts(), "curve": self.curve_.to_dicts()}
