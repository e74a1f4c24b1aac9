"""Person resolution when the agencies share no person id (Fellegi-Sunter, with Splink).

The three tables' person fields (first_name, last_name, birth_date, gender) are
standardised and, with the jurisdiction, the record's own date (one person's arrest, filing
and outcome fall months apart) and the agency's own person id (within its table), compared
pairwise within blocks, scored by a model trained without labels
(u by random sampling, m by EM), and clustered into persons at `threshold`, with the
sources' own references tying records and co-defendants of one case kept apart
(`tipdrift.merge`). Each record's
`person_id` is then replaced by its resolved person key, and the existing key, window and
one-to-one logic of `tipdrift.link` runs on it. Names never leave this module: the result
holds keys, probabilities and which fields agreed.

Blocking (pairs outside every block are never compared): the same agency id within a
table; the same birth date; the same last name and birth year; the same first and last
name (a missing or mistyped birth date); the same first name and birth year (a mistyped
last name); first and last name crossed (a swap). A true pair escapes when no block holds
it: for instance a missing birth date together with a mistyped or shortened name.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.merge import cluster, codefendants, record_ids, references

PERSON_FIELDS = ("first_name", "last_name", "birth_date", "gender")
EVENT_DATES = ("arrest_date", "filing_date", "disposition_date")
TOKEN_MODE = "tokens"
PLACEHOLDER_NAMES = ("unknown", "doe", "nn", "na", "none", "null", "xxx", "anonymous", "notknown", "unk")
PARTICLES = ("de", "del", "della", "der", "di", "da", "van", "von", "al", "el", "bin", "ibn", "le", "la")
# Splink's probabilities are conservative on the noisy world (tipdrift.testing.persons):
# pairs scored 0.15-0.3 were 57% true matches, 0.3-0.5 73%, 0.5-0.7 92%, 0.7-0.9 97%, so
# clustering at 0.3 keeps pairs that are mostly true; at 0.9 a tenth of the links were lost.
DEFAULT_THRESHOLD = 0.3
REVIEW_BAND = (0.15, 0.5)  # the pairs to look at by hand: around the threshold, about half true


def _fold(text: str | None) -> str | None:
    """Lower case, accents removed, particles dropped (when another word remains), letters
    only; placeholders become null. Letters without an ASCII form (Cyrillic, Arabic, ...)
    are kept as they are: there is no transliteration."""
    if text is None:
        return None
    s = unicodedata.normalize("NFKD", text)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    words = ["".join(ch for ch in w if ch.isalpha()) for w in s.replace("-", " ").split()]
    words = [w for w in words if w]
    kept = [w for w in words if w not in PARTICLES] or words
    out = "".join(kept)
    return None if not out or out in PLACEHOLDER_NAMES else out


def fold_names(names: pl.Series) -> pl.Series:
    """`_fold` of every name, computed once per distinct spelling (names repeat a lot)."""
    text = names.cast(pl.String)
    folded = {v: _fold(v) for v in text.drop_nulls().unique().to_list()}
    return text.replace_strict(folded, default=None, return_dtype=pl.String)


def birth_parts(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(ISO day or null, year or null) from birth dates as text: YYYY-MM-DD, YYYY-MM or YYYY
    (a Date column is read as YYYY-MM-DD). Anything else, and placeholder dates (1 January
    1900 or 1901), give nulls: unread, not rejected."""
    if values.dtype in (pl.Date, pl.Datetime) or isinstance(values.dtype, pl.Datetime):  # Parquet, Excel cells
        values = values.cast(pl.Date)
    text = values.cast(pl.String).str.strip_chars()
    day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})$").str.to_date(strict=False).cast(pl.String)
    year = text.str.extract(r"^(\d{4})(?:-\d{2}(?:-\d{2})?)?$").cast(pl.Int32, strict=False)
    year = pl.select(pl.when(year.is_between(1900, 2100)).then(year)).to_series()
    placeholder = day.is_in(["1900-01-01", "1901-01-01"]).fill_null(False)
    return (pl.select(pl.when(~placeholder).then(day)).to_series(),
            pl.select(pl.when(~placeholder).then(year.cast(pl.String))).to_series())


def _day_month(day: pl.Series) -> pl.Series:
    """Day and month of an ISO date, unordered ("03-11" for both 1980-11-03 and 1980-03-11)."""
    md = pl.DataFrame({"d": day}).select(pl.col("d").str.slice(5, 2).alias("a"), pl.col("d").str.slice(8, 2).alias("b"))
    return md.select(pl.concat_str(pl.min_horizontal("a", "b"), pl.max_horizontal("a", "b"), separator="-")).to_series()


def _context(df: pl.DataFrame, source: str) -> dict[str, pl.Series]:
    """What every record brings besides its person fields: ids, gender, jurisdiction, its
    agency's own person id (it holds within its table, never across), and its date (one
    person's arrest, filing and outcome fall months apart)."""
    def col(name: str) -> pl.Series:
        return df.get_column(name).cast(pl.String) if name in df.columns else pl.Series([None] * df.height,
                                                                                       dtype=pl.String)
    when = next((c for c in EVENT_DATES if c in df.columns), "")
    table = pl.repeat(source, df.height, dtype=pl.String, eager=True)
    return {"unique_id": record_ids(source, df.height), "source_dataset": table, "agency_table": table,
            "jurisdiction": col("jurisdiction"),
            "agency_person": (source + ":" + col("person_id")), "event_date": col(when),
            "gender": col("gender").str.to_lowercase().str.slice(0, 1)}


def _has_tokens(df: pl.DataFrame) -> bool:
    """A pseudonymised table: its name tokens hold values (the loader adds empty ones elsewhere)."""
    return "first_name_token" in df.columns and bool(df.get_column("first_name_token").is_not_null().any())


def standardise(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """The Splink input of one table: unique_id, source_dataset and the person fields,
    standardised (a year-only birth date keeps only birth_year); for a pseudonymised table
    (`tipdrift.pseudonymise`), its tokens."""
    from tipdrift.schema import TOKEN_FIELDS

    if _has_tokens(df):
        tok = {c: (df.get_column(c).cast(pl.String) if c in df.columns else pl.Series([None] * df.height, dtype=pl.String))
               for c in TOKEN_FIELDS}
        return pl.DataFrame({**_context(df, source), **tok}).with_columns(
            pl.col("birth_year_token").alias("birth_year"),
            pl.concat_str("first_name_token", "last_name_token", separator=" ").alias("full_name_token"))
    names = {c: fold_names(df.get_column(c)) if c in df.columns else pl.Series(c, [None] * df.height, pl.String)
             for c in ("first_name", "last_name")}
    birth = df.get_column("birth_date") if "birth_date" in df.columns else pl.Series([None] * df.height, dtype=pl.String)
    day, year = birth_parts(birth)
    full = pl.select(pl.concat_str([names["first_name"], names["last_name"]], separator=" ")).to_series()
    return pl.DataFrame({**_context(df, source), "first_name": names["first_name"], "last_name": names["last_name"],
                         "full_name": full, "birth_date": day, "birth_year": year,
                         "birth_year_n": year.cast(pl.Int32), "birth_day_month": _day_month(day),
                         "birth_month": day.str.slice(5, 2), "birth_day": day.str.slice(8, 2),
                         "first_prefix": names["first_name"].str.slice(0, 2),
                         "last_prefix": names["last_name"].str.slice(0, 2)})


# Pairs whose birth dates are known and far apart (more than two years, and no shared day
# and month that a typing error in the year would explain: the birth comparison's last
# level, which no true pair reached in training, m = 0) can never match, so the name-only
# blocks skip them; within one birth year, two full dates that share neither the day nor
# the month (nor are transposed) are skipped by the name-and-year blocks. Plain integer and
# string equality: Splink re-checks every earlier block's condition on each later block's
# pairs, so a costly function here would be paid tens of millions of times.
BIRTH_COMPATIBLE = ("(l.birth_year_n is null or r.birth_year_n is null or abs(l.birth_year_n - r.birth_year_n) <= 2 "
                    "or l.birth_day_month = r.birth_day_month)")
BIRTH_NEAR = ("(l.birth_date is null or r.birth_date is null or l.birth_day_month = r.birth_day_month or "
              "l.birth_month = r.birth_month or l.birth_day = r.birth_day)")


def birth_comparison() -> Any:
    """Birth dates, one comparison (no double counting of date and year): the same day; day
    and month transposed; one typing error; the same year (a year-only date on either side
    is compared here); within two years; else. Null when either side has no year."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same = "birth_date_l = birth_date_r"
    swapped = ("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) and substr(birth_date_l, 6, 2) = "
               "substr(birth_date_r, 9, 2) and substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)")
    typo = "damerau_levenshtein(birth_date_l, birth_date_r) <= 1"
    return cl.CustomComparison(output_column_name="birth", comparison_levels=[
        cll.CustomLevel("birth_year_l is null or birth_year_r is null").configure(is_null_level=True),
        cll.CustomLevel(same, "same birth date"),
        cll.CustomLevel(swapped, "day and month transposed"),
        cll.CustomLevel(typo, "one typing error"),
        cll.CustomLevel("birth_year_l = birth_year_r", "same birth year"),
        cll.CustomLevel("abs(cast(birth_year_l as integer) - cast(birth_year_r as integer)) <= 2", "within two years"),
        cll.ElseLevel()])


def agency_comparison() -> Any:
    """The agency's own person id: the same id in one table (one person), another id in that
    table, or records of two tables (no evidence either way: their ids are unrelated)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(output_column_name="agency_person", comparison_levels=[
        cll.CustomLevel("agency_person_l is null or agency_person_r is null or agency_table_l <> agency_table_r")
        .configure(is_null_level=True),
        cll.CustomLevel("agency_person_l = agency_person_r", "the same agency id"),
        cll.ElseLevel()])


def token_settings(dialect: str = "duckdb") -> dict[str, Any]:
    """The model for pseudonymised tables: tokens can only be equal or not, so near matches
    come from the variant tokens (prefix, Soundex, unordered day and month)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def eq(a: str, b: str | None = None) -> str:
        return f"{a}_l = {b or a}_r"

    fn, ln = "first_name_token", "last_name_token"
    names = cl.CustomComparison(output_column_name="name", comparison_levels=[
        cll.CustomLevel(f"({fn}_l is null or {fn}_r is null) and ({ln}_l is null or {ln}_r is null)")
        .configure(is_null_level=True),
        cll.ExactMatchLevel("full_name_token", term_frequency_adjustments=True),  # both names, rarer ones weigh more
        cll.CustomLevel(f"{eq(fn, ln)} and {eq(ln, fn)}", "names swapped"),
        cll.CustomLevel(f"{eq(ln)} and ({eq('first_name_prefix_token')} or {eq('first_name_sound_token')})",
                        "last name, first name close"),
        cll.CustomLevel(f"{eq(fn)} and {eq('last_name_sound_token')}", "first name, last name sounds alike"),
        cll.CustomLevel(f"{eq('first_name_sound_token')} and {eq('last_name_sound_token')}", "both sound alike"),
        cll.CustomLevel(f"{eq(ln)} or {eq(fn)}", "one name"),
        cll.ElseLevel()])
    birth = cl.CustomComparison(output_column_name="birth", comparison_levels=[
        cll.CustomLevel("birth_year_token_l is null or birth_year_token_r is null").configure(is_null_level=True),
        cll.CustomLevel(eq("birth_date_token"), "same birth date"),
        cll.CustomLevel(eq("birth_pair_token"), "day and month transposed"),
        cll.CustomLevel(eq("birth_year_token"), "same birth year"),
        cll.ElseLevel()])
    creator = SettingsCreator(
        link_type="link_and_dedupe",
        comparisons=[names, birth, cl.ExactMatch("gender"), cl.ExactMatch("jurisdiction"), _event_comparison(),
                     agency_comparison()],
        blocking_rules_to_generate_predictions=[
            block_on("agency_person"), block_on("birth_date_token"),
            block_on(ln, "birth_year_token", "first_name_prefix_token"), block_on(fn, ln),
            block_on(fn, "birth_year_token", "last_name_prefix_token"), block_on("birth_pair_token"),
            block_on("first_name_sound_token", "last_name_sound_token", "birth_year_token"),
            f"l.{fn} = r.{ln} and l.{ln} = r.{fn}"],
        retain_intermediate_calculation_columns=True)
    return creator.get_settings(dialect).as_dict()


def _event_comparison() -> Any:
    import splink.comparison_library as cl

    return cl.AbsoluteDateDifferenceAtThresholds("event_date", input_is_string=True,
                                                 metrics=["month", "month", "month"], thresholds=[6, 24, 60])


def default_settings(dialect: str = "duckdb") -> dict[str, Any]:
    """The model's settings as plain data (what `linkage_model.json` holds before training)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    creator = SettingsCreator(
        link_type="link_and_dedupe",
        comparisons=[cl.ForenameSurnameComparison("first_name", "last_name",
                                                  forename_surname_concat_col_name="full_name"),
                     birth_comparison(), cl.ExactMatch("gender"), cl.ExactMatch("jurisdiction"),
                     _event_comparison(), agency_comparison()],
        blocking_rules_to_generate_predictions=[
            block_on("agency_person"), block_on("birth_date"),
            f"l.last_name = r.last_name and l.birth_year = r.birth_year and l.first_prefix = r.first_prefix and {BIRTH_NEAR}",
            f"l.first_name = r.first_name and l.last_name = r.last_name and {BIRTH_COMPATIBLE}",
            f"l.first_name = r.first_name and l.birth_year = r.birth_year and l.last_prefix = r.last_prefix and {BIRTH_NEAR}",
            f"l.first_name = r.last_name and l.last_name = r.first_name and {BIRTH_COMPATIBLE}"],
        retain_intermediate_calculation_columns=True)
    return creator.get_settings(dialect).as_dict()


@dataclass
class Resolution:
    """Resolved persons: a key per record of each table, the scored pairs, the model."""

    keys: dict[str, pl.Series]  # per table: the resolved person key of each row
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_probability, agreement per field
    model: dict[str, Any]  # the trained Splink settings (reusable with `model=`)
    threshold: float
    summary: dict[str, Any] = field(default_factory=dict)

    def review(self, band: tuple[float, float] = REVIEW_BAND) -> pl.DataFrame:
        """Borderline pairs for clerical review: probability within `band`, with which
        fields agreed (no names: record references and agreement levels only)."""
        lo, hi = band
        return (self.pairs.filter(pl.col("match_probability").is_between(lo, hi))
                .sort("match_probability", "record_l", "record_r"))


EM_PAIRS = 2e6  # EM sees at most about this many blocked pairs (a hash sample of records): enough for the m figures


def _train(linker: Any, tokens: bool = False) -> None:
    """Unsupervised training: lambda from near-certain rules, u by random sampling, m by EM
    (on a sample when a block holds many pairs: they grow with the square of the records)."""
    from splink import block_on

    fn, ln, day = ("first_name_token", "last_name_token", "birth_date_token") if tokens else \
        ("first_name", "last_name", "birth_date")
    linker.training.estimate_probability_two_random_records_match([block_on(fn, ln, day)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7 if tokens else 2e6, seed=1)
    for rule in (block_on(day), block_on(fn, ln)):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_PAIRS)


MODEL_FORMAT = "tipdrift-person-model/3"  # the comparisons this code builds; an older model is refused


def read_model(model: dict[str, Any] | str | Path | None) -> dict[str, Any] | None:
    """A saved model's Splink settings, checked: a file written by this version of tipdrift
    (`linkage_model.json`), or None to train anew."""
    from tipdrift.errors import InputFileError

    if model is None:
        return None
    source = str(model) if isinstance(model, (str, Path)) else "model"
    try:
        doc = json.loads(Path(model).read_text(encoding="utf-8")) if isinstance(model, (str, Path)) else model
    except (OSError, ValueError) as exc:
        raise InputFileError(source, f"not a readable linkage model ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT or not isinstance(doc.get("splink"), dict):
        raise InputFileError(source, f"not a linkage model of this tipdrift version (format {MODEL_FORMAT}): "
                                     "train a new one by linking without --model")
    return doc["splink"]


def _check_fields(inputs: dict[str, pl.DataFrame]) -> None:
    """Stop with one message when no table has names or birth dates to compare."""
    from tipdrift.errors import ParameterError

    fields = ("first_name", "last_name", "birth_year", "first_name_token", "last_name_token")
    have = {k: [c for c in fields if c in df.columns and df.get_column(c).is_not_null().any()]
            for k, df in inputs.items()}
    if any(not v for v in have.values()):
        empty = ", ".join(k for k, v in have.items() if not v)
        raise ParameterError(f"--match probabilistic needs person fields (first_name, last_name, birth_date) on every "
                             f"table; none readable in: {empty}")


def resolve_persons(tables: dict[str, pl.DataFrame], threshold: float = DEFAULT_THRESHOLD,
                    model: dict[str, Any] | str | Path | None = None, backend: str = "duckdb",
                    spark_master: str = "local[*]") -> Resolution:
    """Resolve persons across `tables` (arrests, prosecutions, dispositions: canonical
    frames with person fields). With `model` (a `linkage_model.json`, or its contents) the
    model is reused as is; otherwise it is trained on these tables. `backend`: "duckdb"
    (embedded) or "spark" (`tipdrift.engines`); the same model runs on either."""
    import logging

    from tipdrift.engines import open_engine

    logging.getLogger("splink").setLevel(logging.WARNING)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    inputs = {k: standardise(df, k) for k, df in tables.items()}
    _check_fields(inputs)
    settings = read_model(model)
    engine = open_engine(backend, spark_master)
    try:
        scored, trained = _score(engine, inputs, settings, all(_has_tokens(df) for df in tables.values()), threshold)
    finally:
        engine.close()
    tops = {c["output_column_name"]: sum(not lv.get("is_null_level") for lv in c["comparison_levels"]) - 1
            for c in trained["splink"]["comparisons"]}
    pairs = _pairs(scored, _records(tables), tops)
    ids = pl.concat([df.get_column("unique_id") for df in inputs.values()])
    refs, cases = references(tables), codefendants(tables)
    found = cluster(ids, pairs, threshold, refs, cases)
    summary = {"records": ids.len(), "persons": int(found.labels.n_unique()),
               "pairs_scored": pairs.height, "threshold": threshold,
               "pairs_at_or_above_threshold": int((pairs.get_column("match_probability") >= threshold).sum()),
               "reference_links": refs.height, "codefendant_merges_refused": found.refused,
               "birth_dates_unread": sum(int((df.get_column("birth_year").is_null()).sum()) for df in inputs.values())}
    return Resolution(keys=_keys(inputs, ids, found.labels), pairs=pairs, model=trained, threshold=threshold,
                      summary=summary)


def _score(engine: Any, inputs: dict[str, pl.DataFrame], settings: dict[str, Any] | None, tokens: bool,
           threshold: float) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The scored pairs (every pair scored at or above the review band's floor) and the
    model, trained here when `settings` is None."""
    import logging

    from splink import Linker

    frames = [engine.register(inputs[k], f"tipdrift_{k}") for k in inputs]
    dialect = "spark" if engine.name == "spark" else "duckdb"
    fresh = token_settings(dialect) if tokens else default_settings(dialect)
    linker = Linker(frames, fresh if settings is None else _with_parameters(fresh, settings), log_level=logging.WARNING)
    if settings is None:
        _train(linker, tokens)
    scored = linker.inference.predict(threshold_match_probability=min(REVIEW_BAND[0], threshold, 0.01))
    trained = {"format": MODEL_FORMAT, "splink": linker.misc.save_model_to_json(None)}
    # only ids, probability and agreement levels leave the engine (never the names it compared)
    keep = ["unique_id_l", "unique_id_r", "match_probability",
            *[f"gamma_{c['output_column_name']}" for c in trained["splink"]["comparisons"]]]
    return engine.frame(scored, keep), trained


def _with_parameters(fresh: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """The comparisons as this code builds them for the engine's SQL dialect, with a saved
    model's trained figures (m and u per level, the prior): a model trained on one engine
    runs on the other. A saved model whose comparisons differ is refused."""
    from tipdrift.errors import InputFileError

    def shape(doc: dict[str, Any]) -> list[tuple[str, int]]:
        return [(c["output_column_name"], len(c["comparison_levels"])) for c in doc["comparisons"]]

    try:
        same = shape(fresh) == shape(saved) and isinstance(saved["probability_two_random_records_match"], (int, float))
    except (KeyError, TypeError):
        same = False
    if not same:
        raise InputFileError("model", "its comparisons are not the ones this tipdrift builds for these tables "
                                      "(names or tokens): train a new one by linking without --model")
    out = json.loads(json.dumps(fresh))
    out["probability_two_random_records_match"] = saved["probability_two_random_records_match"]
    for mine, theirs in zip(out["comparisons"], saved["comparisons"]):
        for lv, sv in zip(mine["comparison_levels"], theirs["comparison_levels"]):
            lv.update({k: sv[k] for k in ("m_probability", "u_probability") if k in sv})
    return out


def _keys(inputs: dict[str, pl.DataFrame], ids: pl.Series, labels: pl.Series) -> dict[str, pl.Series]:
    """Each record's person key: "R:" + the unique id of its cluster's first record."""
    key = ("R:" + ids.gather(labels)).alias("person_id")
    out, at = {}, 0
    for k, df in inputs.items():
        out[k] = key.slice(at, df.height)
        at += df.height
    return out


RECORD_IDS = {"arrests": "arrest_id", "prosecutions": "prosecution_id", "dispositions": "disposition_id"}


def _records(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """unique_id -> "table:record id" (what a reviewer looks up; never a name)."""
    return pl.concat([pl.DataFrame({"unique_id": record_ids(k, df.height),
                                    "record": (f"{k}:" + df.get_column(RECORD_IDS.get(k, df.columns[0])).cast(pl.String))})
                      for k, df in tables.items()])


def _pairs(scored: pl.DataFrame, records: pl.DataFrame, tops: dict[str, int]) -> pl.DataFrame:
    """The scored pairs: the two records, the probability and, per comparison, whether its
    fields agreed (exact: the comparison's top level), nearly agreed (close), disagreed
    (differ) or one was missing."""
    gammas = [c for c in scored.columns if c.startswith("gamma_")]

    def word(c: str) -> pl.Expr:
        top = tops.get(c.removeprefix("gamma_"), scored.get_column(c).max())
        g = pl.col(c)
        return (pl.when(g == -1).then(pl.lit("missing")).when(g == 0).then(pl.lit("differ"))
                .when(g == top).then(pl.lit("exact")).otherwise(pl.lit("close")).alias(c.removeprefix("gamma_")))

    rec = records.rename({"unique_id": "unique_id_l", "record": "record_l"})
    out = scored.select("unique_id_l", "unique_id_r", "match_probability", *[word(c) for c in gammas])
    out = out.join(rec, on="unique_id_l", how="left").join(
        records.rename({"unique_id": "unique_id_r", "record": "record_r"}), on="unique_id_r", how="left")
    return out.select("record_l", "record_r", "unique_id_l", "unique_id_r", "match_probability",
                      *[c.removeprefix("gamma_") for c in gammas])


def link_probabilities(trajectories: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The trajectories with the match probability behind each window link:
    `prosecution_link_probability` (arrest and filing records) and
    `disposition_link_probability` (filing and outcome records), as the model scored the
    two records. Null for key links, unlinked steps, and pairs joined only through other
    records of the person (never scored together: a chain, not a direct match)."""
    both = pl.concat([pairs.select(pl.col("record_l").alias("a"), pl.col("record_r").alias("b"), "match_probability"),
                      pairs.select(pl.col("record_r").alias("a"), pl.col("record_l").alias("b"), "match_probability")])
    out = trajectories
    for step, left, right, lt, rt in (("prosecution", "arrest_id", "prosecution_id", "arrests", "prosecutions"),
                                      ("disposition", "prosecution_id", "disposition_id", "prosecutions", "dispositions")):
        window = pl.col(f"{step}_link") == "person_window"
        keyed = out.with_columns(pl.when(window).then(pl.lit(f"{lt}:") + pl.col(left)).alias("__a"),
                                 pl.when(window).then(pl.lit(f"{rt}:") + pl.col(right)).alias("__b"))
        out = keyed.join(both.rename({"a": "__a", "b": "__b", "match_probability": f"{step}_link_probability"}),
                         on=["__a", "__b"], how="left", maintain_order="left").drop("__a", "__b")
    return out
