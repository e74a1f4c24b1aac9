"""Controlled vocabularies, aligned with the Human Trafficking Case Data Standard (HTCDS 2.0).

HTCDS `vic_TypeOfExploitation` uses CamelCase names (ForcedLabour, SexualExploitation, ...);
tipdrift uses snake_case categories and accepts the HTCDS names as built-in aliases.
"""
from __future__ import annotations

CASE_TYPES: tuple[str, ...] = (
    "forced_labour",
    "sexual_exploitation",
    "labour_and_sexual",
    "forced_marriage",
    "other",
    "not_trafficking",
    "unknown",
)

# "unknown" means the type was not recorded (blank or all flags missing). HTCDS has no such
# value: it leaves vic_TypeOfExploitation blank. tipdrift keeps it as a category, distinct
# from "other" (a recorded type outside the named ones), so that a change in recording
# completeness is seen as such and never read as a change in "other".
UNKNOWN = "unknown"
KNOWN_CASE_TYPES: tuple[str, ...] = tuple(c for c in CASE_TYPES if c != UNKNOWN)

OUTCOMES: tuple[str, ...] = ("convicted", "acquitted", "dismissed")

EVENT_KINDS: tuple[str, ...] = (
    "funding",
    "legal",
    "definition",
    "staffing",
    "data_system",
    "policy",
    "coverage",
    "other",
)

# HTCDS vic_TypeOfExploitation value names -> tipdrift case types. Types the standard
# lists but tipdrift does not separate (ChildLabour, Servitude, ForcedBegging, ...) fold
# into the nearest category; a source that needs a different reading maps it explicitly.
HTCDS_CASE_TYPE_ALIASES: dict[str, str] = {
    "ForcedLabour": "forced_labour",
    "ChildLabour": "forced_labour",
    "Servitude": "forced_labour",
    "ForcedBegging": "forced_labour",
    "SexualExploitation": "sexual_exploitation",
    "ForcedMarriage": "forced_marriage",
    "ForcedMilitaryByNonStateActors": "other",
    "OrganRemoval": "other",
    "ForcedAdoption": "other",
    "Surrogacy": "other",
    "Other": "other",
}

# Recording events change only how cases are counted or labelled; every other kind
# (funding, legal, policy, staffing, coverage, other) can change who is seen and is
# substantive. context.status_of, the drift report's text and README read these two sets.
RECORDING_KINDS: frozenset[str] = frozenset({"definition", "data_system"})
SUBSTANTIVE_KINDS: frozenset[str] = frozenset(EVENT_KINDS) - RECORDING_KINDS
