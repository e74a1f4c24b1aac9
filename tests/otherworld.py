"""A second test world, independent of tipdrift's own generator (tipdrift/synth.py).

Nothing here is imported from tipdrift: the world is drawn with numpy from a seed and
written as the sources themselves would export it, with their own column names, codes
and date formats, read through the YAML mappings in tests/otherworld/.

`make_world(out_dir, seed)` writes

A. service-provider cases (`cases.csv`, mapping `cases_mapping.yaml`): 17 organisations
   named like "ngo-north-03" or "Shelter Ω", monthly intake from 2016-07 (each unit starts
   0-12 months later) to 2025-06, 25-60 cases a month (one unit doubles its volume with
   no mix change), Dirichlet-multinomial monthly mixes. Nine units get one step in their
   case-type mix (TVD 0.20-0.30) at a recorded month, eight get none. A context log
   (`context/events.csv`, canonical columns) holds, per step unit, a cause placed inside
   its kind's default window (funding 6 or 10 months before, staffing 3 before,
   definition or data_system in the same month) or outside it (funding 20 months before,
   staffing 10 before, coverage 7 before, policy 18 after), or nothing; plus decoys in
   no-change units and a national (`*`) law long before any step. A few bad rows are
   planted in the cases file (bad dates, blank codes, exact copies).

B. criminal justice (`arrests.csv`, `prosecutions.csv`, `dispositions.csv`, mapping
   `justice_mapping.yaml` with one section per table): persons with one to three
   matters; arrests with no prosecution; prosecutions that carry the arrest number and
   keyless ones; indictment-first filings; prosecutions whose arrest is not in the
   extract; charge and district changes at filing; keyed and keyless judgments; pending
   and stalled cases; re-arrested persons whose later filing is keyless; judgments whose
   prosecution was dropped from the extract (keyless, keyed to the missing filing, and
   keyed to the missing filing while the same person has another filing still open).
   Two exact copies of arrest rows are planted as bad rows.

It returns (and writes as truth.json) the truth: file paths, planted steps, events with
whether each sits inside its default window, true links, and the planted bad rows.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent / "otherworld"
CASES_MAPPING = HERE / "cases_mapping.yaml"
JUSTICE_MAPPING = HERE / "justice_mapping.yaml"

# Default context windows (months before, after), restated from the README, not imported.
WINDOWS = {"funding": (12, 1), "legal": (12, 1), "policy": (12, 1), "staffing": (6, 1),
           "coverage": (3, 1), "other": (3, 1), "definition": (1, 1), "data_system": (1, 1)}
CANON = ("forced_labour", "sexual_exploitation", "labour_and_sexual", "forced_marriage", "other", "not_trafficking")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# ----------------------------------------------------------------- part A: cases

UNITS = ("ngo-north-03", "ngo-north-12", "ngo-south-11", "ngo-east-07", "ngo-west-02", "Shelter Ω", "Casa Ñandú",
         "Refugio São Bento", "Hope House 7", "Stiftung Übergang", "Helpline Ost", "Centre d'accueil Lyon",
         "Ωmega outreach", "Dom Łódź", "Κέντρο Αθήνας", "Safe Haven Kampala", "Mtandao wa Pwani")
START = (2016, 7)          # month 0 of part A
N_MONTHS = 108             # 2016-07 .. 2025-06
CASES_AS_OF = "2025-06-30"
# (cause kind, event month minus step month, inside the default window?) for the step units.
CAUSES = (
    ("funding", -6, True), ("funding", -10, True), ("staffing", -3, True), ("definition", 0, True),
    ("data_system", 0, True), ("funding", -20, False), ("staffing", -10, False), ("coverage", -7, False),
    (None, None, None),
)
NATIONALITIES = ("NG", "VN", "RO", "UA", "BR", "PH", "ET", "AL", "GB", "ER")


def _month(i: int) -> tuple[int, int]:
    """(year, month) of part A's month index i."""
    m = START[0] * 12 + START[1] - 1 + i
    return m // 12, m % 12 + 1


def _iso(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


def _days_in(y: int, m: int) -> int:
    return ((dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.date(y, m, 1)).days


def _source_codes(mapping: dict, column: str) -> dict[str, list[str]]:
    """Canonical value -> the source codes a mapping file maps onto it."""
    out: dict[str, list[str]] = {}
    for code, canon in mapping["labels"][column].items():
        out.setdefault(canon, []).append(code)
    return out


def _step_mix(rng: np.random.Generator, base: np.ndarray) -> tuple[np.ndarray, float]:
    """A new mix at total variation distance 0.20-0.30 from `base`."""
    target = rng.uniform(0.20, 0.30)
    while True:
        if rng.random() < 0.5:  # mass moves towards one category
            q = np.zeros(len(base))
            q[rng.choice(len(base), p=(1 - base) / (1 - base).sum())] = 1.0
        else:  # towards another whole mix
            q = rng.dirichlet(np.full(len(base), 0.7))
        dist = 0.5 * np.abs(q - base).sum()
        if dist >= target:
            w = target / dist
            new = (1 - w) * base + w * q
            return new, float(0.5 * np.abs(new - base).sum())


def _make_cases(out: Path, rng: np.random.Generator) -> dict[str, Any]:
    mapping = yaml.safe_load(CASES_MAPPING.read_text(encoding="utf-8"))
    codes = _source_codes(mapping, "case_type")
    order = rng.permutation(len(UNITS))
    step_units = [UNITS[i] for i in order[: len(CAUSES)]]
    flat_units = [UNITS[i] for i in order[len(CAUSES):]]
    volume_unit = flat_units[0]
    concentration = 120.0  # Dirichlet-multinomial: phi = 1 + (n - 1) / (c + 1), about 1.3 here
    base_alpha = np.array([2.5, 3.0, 0.9, 0.7, 1.2, 2.2])  # a shelter network's typical mix, CANON order

    rows: list[list[str]] = []
    steps, units_truth, events = [], {}, []
    for ui, unit in enumerate(UNITS):
        first = int(rng.integers(0, 13))
        base = rng.dirichlet(base_alpha * 3)
        base = np.maximum(base, 0.02)
        base /= base.sum()
        rate = rng.uniform(32, 50)
        step_at, new_mix, tvd = None, base, 0.0
        if unit in step_units:
            step_at = int(rng.integers(max(first + 24, 26), N_MONTHS - 18))
            new_mix, tvd = _step_mix(rng, base)
            cause = CAUSES[step_units.index(unit)]
            steps.append({"unit": unit, "month_index": step_at, "period": _iso(*_month(step_at), 1),
                          "tvd": round(tvd, 4), "before": dict(zip(CANON, base.round(4).tolist())),
                          "after": dict(zip(CANON, new_mix.round(4).tolist())), "cause_kind": cause[0]})
        vol_at = int(rng.integers(40, 70)) if unit == volume_unit else None
        units_truth[unit] = {"first_period": _iso(*_month(first), 1), "periods": N_MONTHS - first,
                             "step": step_at is not None, "volume_step": vol_at is not None and _iso(*_month(vol_at), 1)}
        for t in range(first, N_MONTHS):
            lam = rate * (1.9 if vol_at is not None and t >= vol_at else 1.0)
            lo, hi = (25, 60) if vol_at is None else (20, 120)
            n = int(np.clip(rng.negative_binomial(30, 30 / (30 + lam)), lo, hi))
            mix = new_mix if step_at is not None and t >= step_at else base
            counts = rng.multinomial(n, rng.dirichlet(mix * concentration))
            y, m = _month(t)
            cat = np.repeat(np.arange(len(CANON)), counts)
            days = rng.integers(1, _days_in(y, m) + 1, cat.size)
            variant = rng.integers(0, 2, cat.size)
            closed_after = np.where(rng.random(cat.size) < 0.7, rng.exponential(120, cat.size).astype(int), -1)
            nat = rng.integers(0, len(NATIONALITIES), cat.size)
            worker = rng.integers(1, 40, cat.size)
            for k, day, v, ca, na, cw in zip(cat, days, variant, closed_after, nat, worker):
                closed = ""
                if ca >= 0:
                    cd = dt.date(y, m, int(day)) + dt.timedelta(days=int(ca))
                    closed = f"{cd.day:02d}.{cd.month:02d}.{cd.year}" if cd.isoformat() <= CASES_AS_OF else ""
                alts = codes[CANON[k]]
                rows.append([unit, f"{day:02d}.{m:02d}.{y:04d}", alts[v % len(alts)], closed, NATIONALITIES[na],
                             f"cw{cw:02d}", f"{ui:02d}{y % 100:02d}{m:02d}"])

    # Record ids (the source numbers intake per unit and month), shuffled export order.
    perm = rng.permutation(len(rows))
    rows = [rows[i] for i in perm]
    seq: dict[str, int] = {}
    for r in rows:
        key = r.pop()
        seq[key] = seq.get(key, 0) + 1
        r.insert(0, f"IN{key}-{seq[key]:03d}")

    # Planted bad rows: bad dates and blank codes (extra records), exact copies of earlier rows.
    bad = []
    for j, (what, reason, column) in enumerate((("date", "bad_date", "opened_date"), ("date", "bad_date", "opened_date"),
                                                 ("date", "bad_date", "opened_date"), ("code", "missing_value", "case_type"),
                                                 ("code", "missing_value", "case_type"), ("copy", "duplicate_record", "case_id"),
                                                 ("copy", "duplicate_record", "case_id"))):
        pos = int(rng.integers(len(rows) // 4, len(rows)))
        if what == "copy":
            row = list(rows[int(rng.integers(0, pos))])
            while row[0].startswith("INX"):
                row = list(rows[int(rng.integers(0, pos))])
        else:
            row = list(rows[pos])
            row[0] = f"INX{j:02d}-001"
            if what == "date":
                row[2] = ("31.02.2019", "2019-05-12", "13.13.2020")[j]
            else:
                row[3] = ""
        rows.insert(pos, row)
        bad.append({"reason": reason, "column": column, "record_id": row[0], "_row": row})
    for b in bad:  # spreadsheet row numbers (header = 1), after all insertions
        b["row"] = next(i + 2 for i, r in enumerate(rows) if r is b["_row"])
        del b["_row"]

    path = out / "cases.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Ref", "Org", "Intake date", "Exploitation", "Closed", "Nationality", "Caseworker"])
        w.writerows(rows)

    # Context log: one cause (or none) per step unit, decoys, a national law before every step.
    def event(unit: str, kind: str, month: int, desc: str, src: str, case_types: str = "", end: int | None = None,
              role: str = "decoy", step: dict | None = None) -> None:
        y, m = _month(month)
        d = int(rng.integers(1, 29))
        rec = {"event_id": f"log-{len(events) + 1:03d}-{int(rng.integers(0, 16 ** 4)):04x}", "unit": unit,
               "date": _iso(y, m, d), "kind": kind, "description": desc, "source": src,
               "end_date": _iso(*_month(end), d) if end is not None else "", "case_types": case_types, "role": role}
        if step is not None:
            off = month - step["month_index"]
            lead, lag = WINDOWS[kind]
            rec.update(offset_months=off, in_window=-lead <= off <= lag)
        events.append(rec)

    for s in steps:
        cause = CAUSES[step_units.index(s["unit"])]
        kind, off, inside = cause
        if kind is None:
            # nothing logged near the step; a policy change 18 months later must not explain it
            event(s["unit"], "policy", s["month_index"] + 18, "referral policy revised", "board minutes",
                  role="after_step", step=s)
            continue
        up = max(CANON, key=lambda c: s["after"][c] - s["before"][c])
        desc = {"funding": "new grant for outreach", "staffing": "two caseworkers hired",
                "definition": "intake form redefines exploitation types", "data_system": "new case management system",
                "coverage": "outreach extended to a new district"}[kind]
        event(s["unit"], kind, s["month_index"] + off, desc, "annual report",
              case_types=up if kind == "funding" and off == -6 else "",
              end=s["month_index"] + off + 24 if kind == "funding" else None,
              role="cause_in_window" if inside else "cause_out_of_window", step=s)
        assert inside == events[-1]["in_window"]
    for unit, kind in zip(flat_units[1:4], ("funding", "data_system", "staffing")):
        event(unit, kind, int(rng.integers(30, 90)), f"{kind.replace('_', ' ')} change with no effect", "newsletter")
    event("*", "legal", 3, "national anti-trafficking law amended", "official gazette")
    assert all(s["month_index"] - 3 > 12 + 6 for s in steps)  # the law sits far outside every step's window

    ctx_dir = out / "context"
    ctx_dir.mkdir(parents=True, exist_ok=True)
    cols = ["event_id", "unit", "date", "kind", "description", "source", "end_date", "case_types"]
    with (ctx_dir / "events.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        w.writerows([[e[c] for c in cols] for e in events])
    shutil.copy(CASES_MAPPING, out / "cases_mapping.yaml")
    return {"cases": str(path), "context": str(ctx_dir / "events.csv"), "cases_mapping": str(out / "cases_mapping.yaml"),
            "cases_as_of": CASES_AS_OF, "cases_rows": len(rows), "cases_bad_rows": bad, "units": units_truth,
            "step_units": step_units, "flat_units": flat_units, "volume_unit": volume_unit, "steps": steps,
            "events": events}


# ----------------------------------------------------------------- part B: justice

DISTRICTS = ("Provincia Alta", "Distrito Bajo", "Kreis Süd", "Comarca Ñ", "Region 9", "Ostmark", "Vale do Rio")
JUSTICE_AS_OF = dt.date(2024, 6, 30)
FIRST_ARREST = dt.date(2015, 3, 1)
LAST_ARREST = dt.date(2024, 3, 31)
TYPES = CANON[:5]
TYPE_P = np.array([0.42, 0.38, 0.08, 0.04, 0.08])
N_PERSONS = 2200


def _hex(rng: np.random.Generator, n: int) -> str:
    return f"{int(rng.integers(0, 16 ** n)):0{n}x}"


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(0, len(options)))]


def _uuidish(rng: np.random.Generator) -> str:
    return f"{_hex(rng, 8)}-{_hex(rng, 4)}-4{_hex(rng, 3)}-{_hex(rng, 4)}-{_hex(rng, 12)}"


def _make_justice(out: Path, rng: np.random.Generator) -> dict[str, Any]:
    mapping = yaml.safe_load(JUSTICE_MAPPING.read_text(encoding="utf-8"))["tables"]
    a_codes = _source_codes(mapping["arrests"], "case_type")
    p_codes = _source_codes(mapping["prosecutions"], "case_type")
    used: set[str] = set()

    def unique(make) -> str:  # noqa: ANN001
        while True:
            x = make()
            if x not in used:
                used.add(x)
                return x

    # One record per matter (a person's case), with everything drawn; rows are written last.
    matters: list[dict[str, Any]] = []
    span = (LAST_ARREST - FIRST_ARREST).days
    for _ in range(N_PERSONS):
        person = unique(lambda: f"p-{_hex(rng, 10)}")
        home = DISTRICTS[int(rng.integers(0, len(DISTRICTS)))]
        k = 1 + int(rng.random() < 0.2) + int(rng.random() < 0.15)
        when = FIRST_ARREST + dt.timedelta(days=int(rng.integers(0, span)))
        for m in range(k):
            if m:
                when = when + dt.timedelta(days=int(rng.uniform(8, 40) * 30.44))
                if when > LAST_ARREST:
                    break
            jur = home if rng.random() < 0.8 else DISTRICTS[int(rng.integers(0, len(DISTRICTS)))]
            ctype = TYPES[int(rng.choice(5, p=TYPE_P))]
            u = rng.random()
            flow = "no_arrest_record" if u < 0.04 else "arrest_only" if u < 0.24 else "indictment_first" if u < 0.32 else "arrest_first"
            mt: dict[str, Any] = {"person": person, "order": m, "jur": jur, "type": ctype, "flow": flow,
                                  "arrest": None, "pros": None, "disp": None}
            if flow != "no_arrest_record":
                mt["arrest"] = {"id": None, "date": when, "jur": jur, "type": ctype,
                                "unit": f"{jur[:3].upper()}-{int(rng.integers(1, 4))}"}
            if flow != "arrest_only":
                if flow == "arrest_first":
                    filed = when + dt.timedelta(days=int(max(3, rng.gamma(2.0, 28.0))))
                elif flow == "indictment_first":
                    filed = when - dt.timedelta(days=int(rng.integers(10, 150)))
                else:
                    filed = when
                if filed <= JUSTICE_AS_OF:
                    mt["pros"] = {
                        "id": None, "date": filed,
                        "jur": jur if rng.random() < 0.95 else DISTRICTS[int(rng.integers(0, len(DISTRICTS)))],
                        "type": ctype if rng.random() < 0.88 else TYPES[int(rng.choice(5, p=TYPE_P))],
                        "keyed": mt["arrest"] is not None and rng.random() < 0.5, "in_extract": True}
                    if rng.random() >= 0.04:  # 4% stall: never decided
                        decided = filed + dt.timedelta(days=int(np.clip(rng.gamma(2.2, 140.0), 20, 1650)))
                        if decided <= JUSTICE_AS_OF:
                            r = rng.random()
                            outcome = "convicted" if r < 0.55 else "dismissed" if r < 0.85 else "acquitted"
                            mt["disp"] = {"id": None, "date": decided, "outcome": outcome,
                                          "sentence": int(np.clip(rng.gamma(2.0, 18.0), 1, 240)) if outcome == "convicted" else None,
                                          "keyed": rng.random() < 0.6, "orphan": None}
            matters.append(mt)

    # Judgments whose filing is missing from the extract. Keyless ones and plain keyed ones
    # among persons with a single matter (nothing else to link to); keyed ones whose person
    # has another filing still open, dated before the judgment: a wrong target the key rules out.
    by_person: dict[str, list[dict]] = {}
    for mt in matters:
        by_person.setdefault(mt["person"], []).append(mt)
    single = [mt for mt in matters if mt["disp"] is not None and len(by_person[mt["person"]]) == 1]
    pick = rng.permutation(len(single))
    for j, i in enumerate(pick[:70]):
        mt = single[i]
        mt["pros"]["in_extract"] = False
        mt["disp"]["keyed"] = j < 35
        mt["disp"]["orphan"] = "keyed" if j < 35 else "keyless"
    pairs = []
    for ms in by_person.values():
        for a in ms:
            for b in ms:
                if (a is not b and b["disp"] is not None and b["disp"]["orphan"] is None and a["pros"] is not None
                        and a["pros"]["date"] < b["disp"]["date"] and a["pros"]["date"] > b["disp"]["date"] - dt.timedelta(days=4 * 365)):
                    pairs.append((a, b))
    taken: set[str] = set()
    n_open = 0
    for i in rng.permutation(len(pairs)):
        a, b = pairs[i]
        if n_open == 12 or a["person"] in taken:
            continue
        taken.add(a["person"])
        if a["disp"] is not None:
            a["disp"] = None  # the other filing is still open
        b["pros"]["in_extract"] = False
        b["disp"]["keyed"] = True
        b["disp"]["orphan"] = "keyed_other_open"
        n_open += 1

    # Ids in the sources' own shapes.
    per_year: dict[int, int] = {}
    judg = 0
    for mt in matters:
        if mt["arrest"]:
            y = mt["arrest"]["date"].year
            per_year[y] = per_year.get(y, 0) + int(rng.integers(1, 4))
            mt["arrest"]["id"] = f"AR/{y}/{per_year[y]:06d}"
        if mt["pros"]:
            mt["pros"]["id"] = unique(lambda: _uuidish(rng))
        if mt["disp"]:
            judg += int(rng.integers(1, 6))
            mt["disp"]["id"] = f"{mt['disp']['date'].year}-CR-{judg:06d}/{'ABCDEFGHJK'[int(rng.integers(0, 10))]}"

    def d_arrest(d: dt.date) -> str:
        return f"{d.day:02d} {MONTHS_EN[d.month - 1]} {d.year}"

    arrests, pros, disps = [], [], []
    ap_links, pd_links = [], []
    for mt in matters:
        a, p, d = mt["arrest"], mt["pros"], mt["disp"]
        if a:
            codes = a_codes[a["type"]]
            arrests.append([a["id"], mt["person"], d_arrest(a["date"]), a["jur"], codes[0], a["unit"]])
        if p and p["in_extract"]:
            pros.append([p["id"], mt["person"], p["date"].strftime("%m/%d/%Y"), p["jur"], p_codes[p["type"]][0],
                         a["id"] if p["keyed"] else ""])
            if a:
                ap_links.append((a["id"], p["id"]))
        if d:
            disps.append([d["id"], mt["person"], d["date"].strftime("%Y%m%d"),
                          _pick(rng, {"convicted": ("GUILTY", "PLEA"), "dismissed": ("DISMISSED", "NOLLE"),
                                      "acquitted": ("NOT GUILTY",)}[d["outcome"]]),
                          p["id"] if d["keyed"] else "", "" if d["sentence"] is None else str(d["sentence"])])
            if p["in_extract"]:
                pd_links.append((p["id"], d["id"]))

    # Exact copies of two arrest rows (the first copy is kept), then shuffled export order.
    for t in (arrests, pros, disps):
        perm = rng.permutation(len(t))
        t[:] = [t[i] for i in perm]
    bad = []
    for _ in range(2):
        src = int(rng.integers(0, len(arrests) // 2))
        pos = int(rng.integers(src + 1, len(arrests)))
        arrests.insert(pos, list(arrests[src]))
        bad.append({"reason": "duplicate_record", "record_id": arrests[src][0]})
    first_seen: dict[str, int] = {}
    for i, r in enumerate(arrests):
        if r[0] in first_seen:
            next(b for b in bad if b["record_id"] == r[0] and "row" not in b)["row"] = i + 2
        first_seen.setdefault(r[0], i)

    headers = {
        "arrests": ["Arrest no.", "Subject", "Arrested on", "District", "Offence", "Unit"],
        "prosecutions": ["Case UUID", "Defendant", "Filed", "Court district", "Charge", "Arrest ref"],
        "dispositions": ["Judgment no.", "Defendant ref", "Decided", "Result", "Case UUID", "Sentence (months)"],
    }
    paths = {}
    for name, rows in (("arrests", arrests), ("prosecutions", pros), ("dispositions", disps)):
        paths[name] = out / f"{name}.csv"
        with paths[name].open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(headers[name])
            w.writerows(rows)
    shutil.copy(JUSTICE_MAPPING, out / "justice_mapping.yaml")

    # Who was arrested before: keyless filings of a later matter of a person with an earlier arrest.
    rearrest_keyless = []
    for ms in by_person.values():
        for i, mt in enumerate(ms):
            p = mt["pros"]
            if (i > 0 and mt["arrest"] and p and p["in_extract"] and not p["keyed"]
                    and any(o["arrest"] for o in ms[:i])):
                earlier_own_case = all(o["pros"] is not None and o["pros"]["in_extract"] for o in ms[:i] if o["arrest"])
                rearrest_keyless.append({"prosecution_id": p["id"], "arrest_id": mt["arrest"]["id"],
                                         "earlier_arrests_have_own_case": earlier_own_case})
    orphans = [{"disposition_id": mt["disp"]["id"], "missing_prosecution_id": mt["pros"]["id"], "kind": mt["disp"]["orphan"]}
               for mt in matters if mt["disp"] and mt["disp"]["orphan"]]
    flows: dict[str, int] = {}
    for mt in matters:
        flows[mt["flow"]] = flows.get(mt["flow"], 0) + 1
    return {
        "arrests": str(paths["arrests"]), "prosecutions": str(paths["prosecutions"]),
        "dispositions": str(paths["dispositions"]), "justice_mapping": str(out / "justice_mapping.yaml"),
        "justice_as_of": JUSTICE_AS_OF.isoformat(),
        "rows": {"arrests": len(arrests), "prosecutions": len(pros), "dispositions": len(disps)},
        "justice_bad_rows": {"arrests": bad, "prosecutions": [], "dispositions": []},
        "persons": len(by_person), "matters": len(matters), "flows": flows,
        "arrest_prosecution": [list(x) for x in ap_links], "prosecution_disposition": [list(x) for x in pd_links],
        "keyed_prosecutions": sum(1 for mt in matters if mt["pros"] and mt["pros"]["in_extract"] and mt["pros"]["keyed"]),
        "keyed_dispositions": sum(1 for mt in matters if mt["disp"] and mt["disp"]["keyed"]),
        "orphan_dispositions": orphans, "rearrest_keyless": rearrest_keyless,
        "indictment_first": [[mt["arrest"]["id"], mt["pros"]["id"]] for mt in matters
                             if mt["flow"] == "indictment_first" and mt["pros"] and mt["pros"]["in_extract"]],
        "prosecutions_without_arrest": [mt["pros"]["id"] for mt in matters
                                        if mt["flow"] == "no_arrest_record" and mt["pros"] and mt["pros"]["in_extract"]],
        "pending_prosecutions": [mt["pros"]["id"] for mt in matters
                                 if mt["pros"] and mt["pros"]["in_extract"] and mt["disp"] is None],
    }


def make_world(out_dir: Path, seed: int) -> dict[str, Any]:
    """Write both parts of the world under out_dir and return (and write) the truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 90210])
    truth = {"seed": seed, **_make_cases(out, rng), **_make_justice(out, rng)}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth
