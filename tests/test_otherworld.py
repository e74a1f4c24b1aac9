"""tipdrift scored on a second world that shares nothing with its own generator (issue 9).

The world comes from tests/otherworld.py (independent numpy code, seed below): sources with
their own column names, codes and date formats read through the YAML mappings in
tests/otherworld/, other unit ids, another start date, causes logged inside and outside the
default context windows, keyless filings of re-arrested persons, judgments whose filing is
missing from the extract. Only the public CLI is used (`tipdrift.cli.main`) and only the
files it writes are read, so these tests hold while the internals change.

Thresholds were set after measuring seeds 0-9 (figures in each docstring: the test seed,
then the range over the ten seeds); each docstring names the wrong implementation it catches.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from otherworld import make_world
from tipdrift.cli import main

SEED = 0
MARGIN = 3  # months between a planted step and a detected mix shift that counts as finding it


def _month(iso: str) -> int:
    return int(iso[:4]) * 12 + int(iso[5:7]) - 1


def _read_rejected(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return make_world(tmp_path_factory.mktemp("otherworld"), SEED)


@pytest.fixture(scope="module")
def shifts(world: dict) -> dict:
    out = Path(world["cases"]).parent / "shifts.json"
    rc = main(["drift", world["cases"], "--kind", "cases", "--mapping", world["cases_mapping"],
               "--context", world["context"], "--seed", "0", "--out", str(out)])
    assert rc == 0
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def linked(world: dict) -> dict:
    out = Path(world["arrests"]).parent / "link"
    rc = main(["link", "--arrests", world["arrests"], "--prosecutions", world["prosecutions"],
               "--dispositions", world["dispositions"], "--mapping", world["justice_mapping"],
               "--out", str(out), "--as-of", world["justice_as_of"]])
    assert rc == 0
    traj = pl.read_parquet(out / "trajectories.parquet")
    return {"traj": traj, "summary": json.loads((out / "summary.json").read_text()),
            "arrest_of": dict(traj.select("prosecution_id", "arrest_id").drop_nulls("prosecution_id").rows()),
            "prosecution_of": dict(traj.select("disposition_id", "prosecution_id").drop_nulls("disposition_id").rows()),
            "disposition_of": dict(traj.select("prosecution_id", "disposition_id").drop_nulls("prosecution_id").rows())}


def _mix(shifts: dict) -> list[dict]:
    return [s for s in shifts["shifts"] if s["kind"] == "mix"]


def _found_steps(world: dict, shifts: dict) -> dict[str, dict]:
    """Planted step unit -> the detected mix shift within MARGIN months of it."""
    out = {}
    for st in world["steps"]:
        near = [s for s in _mix(shifts) if s["unit"] == st["unit"] and abs(_month(s["period"]) - _month(st["period"])) <= MARGIN]
        if near:
            out[st["unit"]] = near[0]
    return out


# ---------------------------------------------------------------- loading through mappings

def test_validate_cases_rejects_exactly_the_planted_rows(world: dict, tmp_path: Path) -> None:
    """71k intake rows (codes LAB/SEX/CSE/LAB+SEX/MARR/OTH/NT, dd.mm.yyyy dates, unit names with
    spaces and non-ASCII) read through cases_mapping.yaml: exit 0 and the rejected file holds
    exactly the 7 planted rows (3 bad dates, 2 blank codes, 2 exact copies) with their
    spreadsheet row numbers. Catches: a mapping whose labels or date_format are not applied
    (thousands of rejections), off-by-one row numbers, copies not told from conflicts."""
    rej = tmp_path / "rejected.csv"
    assert main(["validate", "cases", world["cases"], "--mapping", world["cases_mapping"],
                 "--as-of", world["cases_as_of"], "--rejected", str(rej)]) == 0
    got = {(int(r["row"]), r["reason"], r["column"], r["record_id"]) for r in _read_rejected(rej)}
    want = {(b["row"], b["reason"], b["column"], b["record_id"]) for b in world["cases_bad_rows"]}
    assert got == want


def test_validate_context_log_and_justice_sources(world: dict, tmp_path: Path) -> None:
    """The context log (canonical columns) is accepted whole; the three justice exports, each
    read through its own section of justice_mapping.yaml (`tables:`; dates as '05 Mar 2019',
    '03/05/2019' and '20190305'; outcome codes GUILTY/PLEA/NOT GUILTY/DISMISSED/NOLLE), lose
    only the two planted exact copies of arrest rows. Catches: a `tables:` section ignored
    or the wrong section applied to a table, month-name or compact date formats refused."""
    rej = tmp_path / "context_rejected.csv"
    assert main(["validate", "context", world["context"], "--rejected", str(rej)]) == 0
    assert _read_rejected(rej) == []
    for kind in ("arrests", "prosecutions", "dispositions"):
        rej = tmp_path / f"{kind}_rejected.csv"
        assert main(["validate", kind, world[kind], "--mapping", world["justice_mapping"],
                     "--as-of", world["justice_as_of"], "--rejected", str(rej)]) == 0
        got = {(int(r["row"]), r["reason"], r["record_id"]) for r in _read_rejected(rej)}
        assert got == {(b["row"], b["reason"], b["record_id"]) for b in world["justice_bad_rows"][kind]}, kind


# ---------------------------------------------------------------- drift

def test_planted_mix_steps_are_found(world: dict, shifts: dict) -> None:
    """9 steps (TVD 0.20-0.30, 25-60 cases a month, mild overdispersion) in 17 units.
    Measured: precision 1.0, recall 1.0 (seeds 0-9: 89 of 90 found, 1 other detection placed
    8 months late, so precision and recall >= 8/9 in every seed). Asserted: both >= 8/9.
    Catches: no detection, shifts dated off by more than 3 months (e.g. the segment end
    instead of its start), spurious extra change points in step units."""
    mix = _mix(shifts)
    found = _found_steps(world, shifts)
    assert all(s["status"] == "analysed" for s in shifts["series"])
    recall = len(found) / len(world["steps"])
    precision = len(found) / max(1, len(mix))
    assert recall >= 8 / 9 - 1e-9, f"recall {recall:.3f}"
    assert precision >= 8 / 9 - 1e-9, f"precision {precision:.3f}: {[(s['unit'], s['period']) for s in mix]}"


def test_no_change_units_stay_quiet(world: dict, shifts: dict) -> None:
    """8 units with a constant mix, one of which doubles its volume (x1.9) mid-way.
    Measured: none of the 8 at seed 0 (seeds 0-9: 1 of 80 with the pooled dependence, 2 of 80 before it; 3 of 80 before the exact search
    and the sequential tests, and 1 of 8 at seed 0 in between); the volume step found
    within 3 months (10 of 10 seeds). BH over the run's 17 candidates controls the false discovery
    rate, not each unit: with 9 strong steps in the family, a null candidate with raw p
    about 0.03 passes. Asserted: mix shifts in at most 1 of the 8 no-change units, none in
    the volume unit, and its volume shift found. Catches: a mix cost that is not divided by
    the overdispersion (false alarms everywhere), a mix statistic that reacts to the total
    count, a missing volume detector."""
    alarmed = {s["unit"] for s in _mix(shifts)} & set(world["flat_units"])
    assert len(alarmed) <= 1, sorted(alarmed)
    vu = world["volume_unit"]
    assert vu not in {s["unit"] for s in _mix(shifts)}
    when = _month(world["units"][vu]["volume_step"])
    assert any(s["unit"] == vu and s["kind"] == "volume" and abs(_month(s["period"]) - when) <= MARGIN
               for s in shifts["shifts"])


def test_location_intervals_hold_the_true_date(world: dict, shifts: dict) -> None:
    """Measured: the 95% interval holds the planted month for 8 of 9 detected steps (seeds 0-9:
    86 of 89). Asserted: at least 7 of 9 (0.75 of the detected ones). Catches: intervals of
    zero width or shifted by one period (index off by one)."""
    found = _found_steps(world, shifts)
    steps = {s["unit"]: s for s in world["steps"]}
    held = [_month(s["ci"][0]) <= _month(steps[u]["period"]) <= _month(s["ci"][1]) for u, s in found.items()]
    assert sum(held) >= 0.75 * len(held), f"{sum(held)} of {len(held)}"


def test_causes_inside_the_default_windows_are_attached(world: dict, shifts: dict) -> None:
    """Funding 6 and 10 months before the step, staffing 3 before, a definition change and a
    new data system in the step's month (one funding event also names the category that grew).
    Measured: all 5 attached (seeds 0-9: 50 of 50); funding and staffing make the shift
    `explained`, definition and data_system `artifact_compatible`. Asserted: all attached and
    those statuses. Catches: windows measured from the interval's wrong end or in days,
    lead and lag swapped, `case_types` filtering that drops a matching event, recording
    events counted as substantive."""
    found = _found_steps(world, shifts)
    inside = [e for e in world["events"] if e.get("in_window") is True]
    assert len(inside) == 5
    for e in inside:
        s = found.get(e["unit"])
        assert s is not None, f"step of {e['unit']} not detected"
        assert e["event_id"] in {a["event_id"] for a in s["annotations"]}, (e, s["ci"])
        want = "artifact_compatible" if e["kind"] in ("definition", "data_system") else "explained"
        assert s["status"] == want, (e["unit"], s["status"])


def test_causes_outside_the_default_windows_are_not_attached(world: dict, shifts: dict) -> None:
    """Funding 20 months before (window 12), staffing 10 before (6), coverage 7 before (3), a
    policy change 18 months after (1); and one step with nothing logged. Measured: none
    attached, all five shifts `unexplained` (seeds 0-9: 0 attached of 39). Asserted: the same.
    Catches: one window for every kind (e.g. 12 months for all), windows with no upper bound,
    events of other units (or of no unit) attached."""
    found = _found_steps(world, shifts)
    outside = [e for e in world["events"] if e.get("in_window") is False]
    assert len(outside) == 4
    units = {e["unit"] for e in outside} | {s["unit"] for s in world["steps"] if s["cause_kind"] is None}
    for u in units:
        s = found.get(u)
        assert s is not None, f"step of {u} not detected"
        assert s["annotations"] == [] and s["status"] == "unexplained", (u, s["annotations"])


def test_events_with_no_shift_are_listed(world: dict, shifts: dict) -> None:
    """Decoys (funding, data_system, staffing in no-change units; a national `*` law 21+ months
    before every step) are listed under context_without_shift when no shift takes them.
    Measured: 4 of 4 (seeds 0-9: 39 of 40; the other, the `*` law, went to a spurious volume
    shift near the start of a series). Asserted: decoys of units with no shift are listed; the
    `*` law annotates none of the planted steps. Catches: a `*` event attached to every unit's
    shift regardless of date; events with no shift dropped from the document."""
    shifted = {s["unit"] for s in shifts["shifts"]}
    listed = {e["event_id"] for e in shifts["context_without_shift"]}
    decoys = [e for e in world["events"] if e["role"] == "decoy"]
    for e in decoys:
        if e["unit"] != "*" and e["unit"] not in shifted:
            assert e["event_id"] in listed, e
    law = next(e["event_id"] for e in decoys if e["unit"] == "*")
    assert not any(a["event_id"] == law for s in _found_steps(world, shifts).values() for a in s["annotations"])


# ---------------------------------------------------------------- linkage

def _pairs(traj: pl.DataFrame, a: str, b: str) -> set[tuple[str, str]]:
    return set(traj.filter(pl.col(a).is_not_null() & pl.col(b).is_not_null()).select(a, b).iter_rows())


def test_link_precision_and_recall(world: dict, linked: dict) -> None:
    """2,656 arrests, 2,135 filings, 1,954 judgments of 2,200 persons (2,761 matters).
    Measured: arrest->prosecution precision 0.997, recall 0.999; prosecution->disposition
    precision 0.987, recall 0.994 (seeds 0-9: AP >= 0.994 / 0.997, PD >= 0.982 / 0.989;
    PD loses 12 links a seed to the keyed-orphan case below, the rest to keyless overlaps).
    Asserted: all >= 0.98. Catches: keys ignored (PD precision 0.966 when the keys are
    blanked), a window that only runs forward from the arrest, links that are not one-to-one."""
    traj = linked["traj"]
    for got, want, name in ((_pairs(traj, "arrest_id", "prosecution_id"), world["arrest_prosecution"], "AP"),
                            (_pairs(traj, "prosecution_id", "disposition_id"), world["prosecution_disposition"], "PD")):
        want = {tuple(x) for x in want}
        tp = len(got & want)
        assert tp / len(got) >= 0.98, f"{name} precision {tp / len(got):.4f}"
        assert tp / len(want) >= 0.98, f"{name} recall {tp / len(want):.4f}"


def test_keys_are_honoured(world: dict, linked: dict) -> None:
    """Every filing that carries an arrest number of the extract is linked to that arrest, and
    every judgment that names a filing of the extract to that filing, by key. Measured: all.
    Catches: keys read from the wrong column after mapping, window links overriding keys."""
    traj = linked["traj"]
    pros = pl.read_csv(world["prosecutions"], infer_schema=False)
    disp = pl.read_csv(world["dispositions"], infer_schema=False)
    keyed_p = dict(pros.filter(pl.col("Arrest ref").is_not_null()).select("Case UUID", "Arrest ref").iter_rows())
    in_extract = set(pros.get_column("Case UUID").to_list())
    keyed_d = {d: p for d, p in disp.select("Judgment no.", "Case UUID").iter_rows() if p in in_extract}
    assert len(keyed_p) > 900 and len(keyed_d) > 900
    assert {p: linked["arrest_of"].get(p) for p in keyed_p} == keyed_p
    assert {d: linked["prosecution_of"].get(d) for d in keyed_d} == keyed_d
    methods = traj.filter(pl.col("prosecution_id").is_in(list(keyed_p)) & (pl.col("entry_stage") == "arrest"))
    assert set(methods.get_column("prosecution_link").cast(pl.String).to_list()) == {"key"}


def test_indictment_first_and_arrestless_filings(world: dict, linked: dict) -> None:
    """Filings dated 10-150 days before the arrest link to it (measured: all); filings whose
    arrest is not in the extract mostly stay prosecution-entry (measured 204 of 204 and 98 of
    104: the 6 others take the same person's other, unprosecuted arrest within 24 months,
    which the data cannot rule out; seeds 0-9: 2,081 of 2,082 and >= 0.91). Asserted: >= 0.98
    and >= 0.85. Catches: a window that runs only forward from the arrest."""
    ind = world["indictment_first"]
    ok = sum(linked["arrest_of"].get(p) == a for a, p in ind)
    assert len(ind) > 100 and ok / len(ind) >= 0.98, f"{ok} of {len(ind)}"
    alone = world["prosecutions_without_arrest"]
    unlinked = sum(linked["arrest_of"].get(p) is None for p in alone)
    assert unlinked / len(alone) >= 0.85, f"{unlinked} of {len(alone)}"


def test_rearrested_persons_keyless_filings_link_to_their_own_arrest(world: dict, linked: dict) -> None:
    """Keyless filings of a person's later matter, when the same person was arrested before
    (often within the 24-month window of the later filing). Measured: 213 of 214 right; of
    the 169 whose earlier arrests each have their own filing, 168 (seeds 0-9: 2,043 of 2,057
    and 1,604 of 1,606). Asserted: >= 0.98 for both. Catches: taking the person's first or
    any arrest in the window rather than a one-to-one nearest match.
    The misses: a filing whose charge changed at filing prefers a 15-19-month-old arrest with
    matching labels over its own arrest 1-4 months earlier (labels rank before the date gap)."""
    r = world["rearrest_keyless"]
    ok = [linked["arrest_of"].get(x["prosecution_id"]) == x["arrest_id"] for x in r]
    own = [o for o, x in zip(ok, r) if x["earlier_arrests_have_own_case"]]
    assert len(r) > 150 and sum(ok) / len(ok) >= 0.98, f"{sum(ok)} of {len(ok)}"
    assert sum(own) / len(own) >= 0.98, f"{sum(own)} of {len(own)}"


def test_judgments_whose_filing_is_missing_enter_at_disposition(world: dict, linked: dict) -> None:
    """70 judgments of single-matter persons whose filing was dropped from the extract (35
    naming the missing filing, 35 keyless) become disposition-entry trajectories, linked to no
    filing. Measured: 70 of 70. Catches: a judgment forced onto any filing of the person or a
    keyed judgment whose key is unknown rejected instead of kept."""
    traj = linked["traj"]
    orphans = [o for o in world["orphan_dispositions"] if o["kind"] in ("keyed", "keyless")]
    assert len(orphans) == 70
    rows = traj.filter(pl.col("disposition_id").is_in([o["disposition_id"] for o in orphans]))
    assert rows.height == 70
    assert set(rows.get_column("entry_stage").cast(pl.String).to_list()) == {"disposition"}
    assert rows.get_column("prosecution_id").null_count() == 70


def test_keyed_judgment_of_a_missing_filing_is_not_put_on_another_filing(world: dict, linked: dict) -> None:
    """12 judgments name a filing missing from the extract while the same person has another
    filing, still open, dated before the judgment. The key says the judgment closes a
    different case, so it must stay disposition-entry and the open filing must stay pending.
    Measured: 12 of 12 linked to the open filing (every seed), which also closes that case in
    attrition. Catches (once fixed): the person+window fallback for an unknown key."""
    traj = linked["traj"]
    trap = [o for o in world["orphan_dispositions"] if o["kind"] == "keyed_other_open"]
    assert len(trap) == 12
    wrong = {o["disposition_id"]: linked["prosecution_of"].get(o["disposition_id"]) for o in trap}
    assert {d: p for d, p in wrong.items() if p is not None} == {}
    rows = traj.filter(pl.col("disposition_id").is_in(list(wrong)))
    assert set(rows.get_column("entry_stage").cast(pl.String).to_list()) == {"disposition"}


def test_pending_filings_stay_open_and_counts_reconcile(world: dict, linked: dict) -> None:
    """Filings with no judgment by the extract date (slow, stalled, or open while another case
    was decided) keep a blank disposition; every source row is in one trajectory or rejected.
    Measured: 251 of 263 pending stay open (the 12 others are the keyed-orphan case above;
    seeds 0-9: >= 0.95). Asserted: >= 0.9 open; every accepted record in exactly one row.
    Catches: judgments linked across persons or before their filing, records lost or doubled."""
    pend = world["pending_prosecutions"]
    still = sum(linked["disposition_of"].get(p) is None for p in pend)
    assert len(pend) > 150 and still / len(pend) >= 0.9, f"{still} of {len(pend)}"
    src = linked["summary"]["sources"]
    for kind in ("arrests", "prosecutions", "dispositions"):
        assert src[kind]["rows"] == world["rows"][kind]
        assert src[kind]["accepted"] + src[kind]["rejected"] == src[kind]["rows"]
    assert src["arrests"]["rejected"] == len(world["justice_bad_rows"]["arrests"])
    for col, kind in (("arrest_id", "arrests"), ("prosecution_id", "prosecutions"), ("disposition_id", "dispositions")):
        ids = linked["traj"].get_column(col).drop_nulls()
        assert ids.len() == ids.n_unique() == src[kind]["accepted"], kind
