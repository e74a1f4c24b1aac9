"""Persons from scored record pairs: clusters at a threshold, under what the sources say.

Two rules come from the sources themselves, not from the model:
- **references tie records**: a filing whose `arrest_id` names an arrest, or an outcome
  whose `prosecution_id` names a filing, is the same person's (the linker trusts these
  references for the trajectory too);
- **co-defendants are different persons**: filings that share a `case_id` under different
  agency person ids are never put in one cluster, even when relatives share a surname and
  a close birth date, and even through a chain of other records.

Clusters are connected components of the pairs at or above the threshold plus the
references. Only a component that would hold two co-defendants of one case is rebuilt,
greedily: its links are taken from the most to the least probable (references first), and
a link that would join two co-defendants is refused (counted).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

REFERENCE = 2.0  # a reference outranks every model probability in the greedy order
REFERENCES = (("prosecutions", "arrest_id", "arrests"), ("dispositions", "prosecution_id", "prosecutions"))


@dataclass
class Clusters:
    """labels[i]: the position (in the record order) of record i's cluster's first record."""

    labels: pl.Series
    refused: int  # links not made because they would join co-defendants of one case


def record_ids(kind: str, n: int) -> pl.Series:
    """The unique ids Splink sees for a table's n records, in order: "kind:0", "kind:1", ..."""
    return pl.select((pl.lit(f"{kind}:") + pl.int_range(n, dtype=pl.Int64).cast(pl.String)).alias("unique_id")).to_series()


def references(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """(unique_id_l, unique_id_r) of the records the sources tie by reference: a filing
    naming its arrest, an outcome naming its filing."""
    out = [pl.DataFrame(schema={"unique_id_l": pl.String, "unique_id_r": pl.String})]
    for kind, key, target in REFERENCES:
        if kind not in tables or target not in tables or key not in tables[kind].columns:
            continue
        src = tables[kind].select(pl.col(key).cast(pl.String)).with_columns(record_ids(kind, tables[kind].height))
        dst = (tables[target].select(pl.col(key).cast(pl.String)).with_columns(record_ids(target, tables[target].height))
               .unique(subset=key, keep="first", maintain_order=True))
        out.append(src.drop_nulls(key).join(dst, on=key, how="inner", suffix="_r")
                   .select(pl.col("unique_id").alias("unique_id_l"), pl.col("unique_id_r")))
    return pl.concat(out)


def codefendants(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """(unique_id, case, who) for filings in a case with more than one defendant: `who` is
    the agency's person id (its own records of one person may share a case) or, without
    one, the record itself."""
    empty = pl.DataFrame(schema={"unique_id": pl.String, "case": pl.String, "who": pl.String})
    p = tables.get("prosecutions")
    if p is None or "case_id" not in p.columns:
        return empty
    who = pl.col("person_id").cast(pl.String) if "person_id" in p.columns else pl.lit(None, pl.String)
    df = (p.select(pl.col("case_id").cast(pl.String).alias("case"), who.alias("who"))
          .with_columns(record_ids("prosecutions", p.height))
          .with_columns(pl.col("who").fill_null(pl.col("unique_id"))).drop_nulls("case"))
    return df.filter(pl.col("who").n_unique().over("case") > 1).select("unique_id", "case", "who")


def _edges(pos: pl.DataFrame, pairs: pl.DataFrame, threshold: float, refs: pl.DataFrame) -> pl.DataFrame:
    """(u, v, p) as record positions: the pairs at or above the threshold, then references."""
    kept = pairs.filter(pl.col("match_probability") >= threshold).select(
        "unique_id_l", "unique_id_r", pl.col("match_probability").alias("p"))
    both = pl.concat([kept, refs.with_columns(pl.lit(REFERENCE).alias("p"))])
    return (both.join(pos.rename({"unique_id": "unique_id_l", "pos": "u"}), on="unique_id_l")
            .join(pos.rename({"unique_id": "unique_id_r", "pos": "v"}), on="unique_id_r").select("u", "v", "p"))


def _components(n: int, edges: pl.DataFrame) -> np.ndarray:
    """Each node's component, labelled by its smallest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    u, v = edges.get_column("u").to_numpy(), edges.get_column("v").to_numpy()
    graph = coo_matrix((np.ones(u.size, np.int8), (u, v)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    first = np.full(comp.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, comp, np.arange(n))
    return first[comp]


def _greedy(nodes: np.ndarray, edges: pl.DataFrame, cases: dict[int, dict[str, str]]) -> tuple[dict[int, int], int]:
    """Union-find over one component's links, most probable first; a link whose two sides
    hold different defendants of one case is refused. Returns node -> smallest node of its
    cluster, and the number refused."""
    parent = {int(x): int(x) for x in nodes}
    held = {x: dict(cases.get(x, {})) for x in parent}  # root -> {case: defendant}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    refused = 0
    for u, v, _ in edges.sort(["p", "u", "v"], descending=[True, False, False]).iter_rows():
        a, b = root(u), root(v)
        if a == b:
            continue
        if any(held[b].get(c, w) != w for c, w in held[a].items()):
            refused += 1
            continue
        a, b = min(a, b), max(a, b)
        parent[b] = a
        held[a].update(held.pop(b))
    return {x: root(x) for x in parent}, refused


def cluster(ids: pl.Series, pairs: pl.DataFrame, threshold: float, refs: pl.DataFrame, cases: pl.DataFrame) -> Clusters:
    """Cluster the records `ids` (in order) from the scored `pairs` at `threshold`, with
    the references tying records and co-defendants kept apart (module docstring)."""
    n = ids.len()
    pos = pl.DataFrame({"unique_id": ids, "pos": np.arange(n, dtype=np.int64)})
    edges = _edges(pos, pairs, threshold, refs)
    labels = _components(n, edges)
    held = cases.join(pos, on="unique_id")
    held = held.with_columns(pl.Series("comp", labels[held.get_column("pos").to_numpy()]))
    clash = (held.group_by("comp", "case").agg(pl.col("who").n_unique().alias("k")).filter(pl.col("k") > 1)
             .select("comp").unique())
    refused = 0
    if clash.height:  # split edges and defendants by component once, not once per component
        at = edges.with_columns(pl.Series("comp", labels[edges.get_column("u").to_numpy()])).join(clash, on="comp")
        sub = at.partition_by("comp", as_dict=True, include_key=False)
        mine = held.join(clash, on="comp").partition_by("comp", as_dict=True, include_key=False)
        for (comp,) in sorted(mine):
            per: dict[int, dict[str, str]] = {}
            for p, c, w in mine[(comp,)].select("pos", "case", "who").iter_rows():
                per.setdefault(p, {})[c] = w
            links = sub[(comp,)]  # every node of a component with a clash is on one of its links
            nodes = np.unique(np.concatenate([links.get_column("u").to_numpy(), links.get_column("v").to_numpy()]))
            roots, r = _greedy(nodes, links, per)
            refused += r
            labels[list(roots)] = list(roots.values())
    return Clusters(labels=pl.Series("label", labels), refused=refused)
