"""The canonical tables: the data contract every loader enforces.

Each table is described as plain data (a TableSpec), so validation is one generic
routine and the contract can be printed, documented and tested in one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tipdrift.vocab import CASE_TYPES, EVENT_KINDS, OUTCOMES


@dataclass(frozen=True)
class TableSpec:
    """Columns, types and row rules of one canonical table."""

    kind: str
    id_column: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    # required columns whose value may not be blank on a row
    not_null: tuple[str, ...] = ()
    vocab: dict[str, tuple[str, ...]] = field(default_factory=dict)
    integers: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    # (earlier, later): a row where later < earlier is rejected
    date_order: tuple[tuple[str, str], ...] = ()
    # largest plausible value of a number column (larger, or infinite, is bad_number)
    maxima: dict[str, float] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def ids(self) -> tuple[str, ...]:
        """Identifier columns: compared as text, exactly, after declared normalisation."""
        return tuple(c for c in self.columns if c.endswith("_id"))


# Person fields (HTCDS prs_FirstName, prs_SecondName, prs_Birthdate, prs_Gender), optional on
# all three tables: what links records when the agencies share no person id (tipdrift.resolve).
# They are carried as text and never reject a row (a birth date is not an event of the
# record, and a rejected row's value would show it): tipdrift.resolve reads what it can.
PERSON_FIELDS = ("first_name", "last_name", "birth_date", "gender")
# The same fields pseudonymised (tipdrift.pseudonymise): keyed hashes of names, name variants
# and birth dates, so agencies can be linked without any name leaving its owner.
TOKEN_FIELDS = ("first_name_token", "last_name_token", "first_name_prefix_token", "last_name_prefix_token",
                "first_name_sound_token", "last_name_sound_token", "birth_date_token", "birth_pair_token",
                "birth_year_token")

ARRESTS = TableSpec(
    kind="arrests",
    id_column="arrest_id",
    required=("arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"),
    optional=("agency", *PERSON_FIELDS, *TOKEN_FIELDS),
    dates=("arrest_date",),
    not_null=("arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"),
    vocab={"case_type": CASE_TYPES},
)

PROSECUTIONS = TableSpec(
    kind="prosecutions",
    id_column="prosecution_id",
    required=("prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type"),
    optional=("arrest_id", "case_id", *PERSON_FIELDS, *TOKEN_FIELDS),  # case_id: the court case; co-defendants share it
    dates=("filing_date",),
    not_null=("prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type"),
    vocab={"case_type": CASE_TYPES},
)

DISPOSITIONS = TableSpec(
    kind="dispositions",
    id_column="disposition_id",
    required=("disposition_id", "person_id", "disposition_date", "outcome"),
    optional=("prosecution_id", "sentence_months", *PERSON_FIELDS, *TOKEN_FIELDS),
    dates=("disposition_date",),
    maxima={"sentence_months": 1200.0},  # 100 years: longer is a code (life, death), not months
    not_null=("disposition_id", "person_id", "disposition_date", "outcome"),
    vocab={"outcome": OUTCOMES},
    numbers=("sentence_months",),
)

CASES = TableSpec(
    kind="cases",
    id_column="case_id",
    required=("case_id", "org_id", "opened_date", "case_type"),
    optional=("closed_date", "country", "services"),
    dates=("opened_date", "closed_date"),
    not_null=("case_id", "org_id", "opened_date", "case_type"),
    vocab={"case_type": CASE_TYPES},
    integers=("services",),
    date_order=(("opened_date", "closed_date"),),
)

CONTEXT = TableSpec(
    kind="context",
    id_column="event_id",
    required=("event_id", "unit", "date", "kind", "description", "source"),
    optional=("end_date", "case_types"),
    dates=("date", "end_date"),
    not_null=("event_id", "unit", "date", "kind"),
    vocab={"kind": EVENT_KINDS},
    date_order=(("date", "end_date"),),
)

SPECS: dict[str, TableSpec] = {s.kind: s for s in (ARRESTS, PROSECUTIONS, DISPOSITIONS, CASES, CONTEXT)}

# Reason codes written to the rejected table (documented in README).
REASONS: dict[str, str] = {
    "missing_value": "a required value is blank",
    "bad_date": "the date cannot be parsed as YYYY-MM-DD, YYYY-MM or YYYY (or the mapping's date_format)",
    "implausible_date": "the date is before 1900-01-01",
    "future_date": "the date is after the extract date (as_of)",
    "date_order": "an end date precedes its start date",
    "unknown_label": "a label is not in the vocabulary and not mapped",
    "bad_number": "a number cannot be parsed or is negative",
    "duplicate_record": "an exact copy of an earlier row (the first copy is kept)",
    "conflicting_duplicate_id": "the id occurs on rows that disagree (all copies rejected)",
    "bad_id": "an id that is a non-whole float, in scientific notation, or holds a control character",
    "bad_flag": "a flag column read by a mapping rule holds something other than yes/no or a count",
    "disposition_before_filing": "(linkage) a disposition keyed to a filing dated after it",
}


def spec_for(kind: str) -> TableSpec:
    try:
        return SPECS[kind]
    except KeyError:
        from tipdrift.errors import ParameterError

        raise ParameterError(f"unknown table kind '{kind}'; expected one of {', '.join(SPECS)}") from None
