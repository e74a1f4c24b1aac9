"""Segment costs, one class per file, each a ruptures `BaseCost` plugged in by name.

Importing this package registers the models with ruptures' cost factory, so
`ruptures.Pelt(model="multinomial")` finds `CostMultinomial`.
"""
from tipdrift.costs.multinomial import CostMultinomial, multinomial_cost, xlogx, xlogx_counts
from tipdrift.costs.poisson import CostPoisson, poisson_cost

__all__ = ["CostMultinomial", "CostPoisson", "multinomial_cost", "poisson_cost", "xlogx", "xlogx_counts"]
