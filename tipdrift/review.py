"""The reviewer gate: every shift with its status and context, and the unexplained ones
that nobody has acknowledged yet.

reviews.csv columns: unit, period (YYYY-MM or YYYY-MM-DD, the shift's first period),
reviewer, note. An acknowledged shift stays `unexplained` in the record, but no longer
fails `--strict`.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.errors import InputFileError
from tipdrift.load import ROW, read_raw
from tipdrift.shift import Shift

REVIEW_COLUMNS = ("unit", "period", "reviewer", "note")


def load_reviews(path: str | Path) -> pl.DataFrame:
    """Acknowledgements keyed by unit and period month; rows without a reviewer are an error."""
    raw, _ = read_raw(path)
    for c in REVIEW_COLUMNS:
        if c not in raw.columns:
            raise InputFileError(str(path), "missing required column for reviews (unit, period, reviewer, note)", column=c)
    df = raw.with_columns(pl.col("period").str.strip_chars().str.slice(0, 7).alias("month"))
    bad = df.filter(~pl.col("month").str.contains(r"^\d{4}-\d{2}$") | pl.col("reviewer").is_null()
                    | (pl.col("reviewer").str.strip_chars() == ""))
    if bad.height:
        r = bad.row(0, named=True)
        col = "reviewer" if r["month"] and len(r["month"]) == 7 and r["month"][4] == "-" else "period"
        raise InputFileError(str(path), "each acknowledgement needs a period (YYYY-MM) and a reviewer", row=r[ROW], column=col)
    return df.select("unit", "month", "reviewer", "note")


def review(shifts: list[Shift], reviews: pl.DataFrame | None = None,
           context_without_shift: int = 0) -> dict[str, Any]:
    """Lines and counts for the review of one run's shifts."""
    acks = {(r["unit"], r["month"]): r for r in (reviews.iter_rows(named=True) if reviews is not None else [])}
    items = []
    for s in shifts:
        ack = acks.get((s.unit, s.period.isoformat()[:7]))
        items.append({
            "unit": s.unit, "kind": s.kind, "period": s.period.isoformat()[:7],
            "ci": [s.ci[0].isoformat()[:7], s.ci[1].isoformat()[:7]],
            "effect": s.effect_label(), "shape": s.shape, "stability": s.stability,
            "location_constrained": s.location_constrained, "status": s.status, "status_reason": s.status_reason,
            "p_adjusted": s.p_adjusted,
            "events": [f"{a.event_id} {a.kind} {a.date.isoformat()}" for a in s.annotations],
            "chance_rate": s.chance_rate,
            "acknowledged": bool(ack), "reviewer": ack["reviewer"] if ack else None,
        })
    counts = dict(sorted(Counter(i["status"] for i in items).items()))
    open_items = [i for i in items if i["status"] == "unexplained" and not i["acknowledged"]]
    return {"shifts": items, "counts": counts, "unexplained_unacknowledged": len(open_items),
            "context_without_shift": context_without_shift}


def format_review(result: dict[str, Any]) -> str:
    lines = []
    for i in result["shifts"]:
        events = "; ".join(i["events"]) if i["events"] else "no recorded context"
        if i.get("status_reason"):
            events = f"{i['status_reason']}; {events}"
        chance = f", chance {i['chance_rate']:.0%}" if i.get("chance_rate") is not None and i["events"] else ""
        ack = f" [acknowledged by {i['reviewer']}]" if i["acknowledged"] else ""
        shape = i["shape"] + ("?" if i["location_constrained"] else "")
        stable = f"{i['stability']:.0%}" if i.get("stability") is not None else "-"
        lines.append(f"{i['unit']:<12} {i['kind']:<6} {i['period']} [{i['ci'][0]}..{i['ci'][1]}] {shape:<8} "
                     f"stab {stable:>4}  {i['effect']:<60} {i['status']:<19} {events}{chance}{ack}")
    total = sum(result["counts"].values())
    summary = ", ".join(f"{k} {v}" for k, v in result["counts"].items()) or "none"
    lines.append(f"{total} shifts: {summary}; unexplained and not acknowledged: {result['unexplained_unacknowledged']}; "
                 f"context events with no shift: {result['context_without_shift']}")
    return "\n".join(lines)


def unmatched_acknowledgements(shifts: list[Shift], reviews: pl.DataFrame | None) -> list[str]:
    """Warnings for acknowledgements that match no shift (a typo in unit or month would
    otherwise leave the shift it meant open without a word)."""
    if reviews is None:
        return []
    have = {(s.unit, s.period.isoformat()[:7]) for s in shifts}
    return [f"warning: acknowledgement by {r['reviewer']} for {r['unit']} {r['month']} matches no shift"
            for r in reviews.iter_rows(named=True) if (r["unit"], r["month"]) not in have]
