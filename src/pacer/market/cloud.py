"""A provider's conventional cloud: the business beyond the AI demand a scenario models, carried at a stated
size so that the provider's capex can be compared with what a company reports.

Its IT load grows at a scheduled rate. Each quarter it buys servers for the load it adds and for the share
of its servers that reaches the end of its life (a fleet bought evenly over one life), and buildings for the
load it adds (facility MW: IT load times the region's PUE). It does not compete with the AI fleet for the
planner's live MW: the scenario states its size, the market does not decide it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pacer.catalog import load_facilities
from pacer.scenario import ConventionalCloud, Scenario


@dataclass(frozen=True)
class CloudCapex:
    """Per quarter (summed over regions): IT load in service (MW), and capex for servers and buildings (USD)."""

    it_mw: np.ndarray
    server_capex_usd: np.ndarray
    building_capex_usd: np.ndarray

    @property
    def capex_usd(self) -> np.ndarray:
        return self.server_capex_usd + self.building_capex_usd


def building_usd_per_mw(cloud: ConventionalCloud) -> float:
    """Building cost per facility MW: the cloud's own, or the catalog's stage spend per MW summed."""
    if cloud.building_usd_per_mw is not None:
        return cloud.building_usd_per_mw
    return float(sum(stage.spend_usd_per_mw for stage in load_facilities().stages.values()))


def cloud_capex(s: Scenario, cloud: ConventionalCloud | None) -> CloudCapex:
    """The conventional cloud's load and capex in each quarter of ``s`` (zeros when there is none)."""
    n_q = len(s.quarters)
    if cloud is None:
        zero = np.zeros(n_q)
        return CloudCapex(zero, zero, zero)
    # Annual growth in force over each quarter (quarter k grows into k; the first from before the horizon).
    quarters = np.array([str(q) for q in s.quarters])
    growth = np.full(n_q, cloud.annual_growth)
    for q, g in sorted(cloud.growth_from.items()):
        growth[quarters >= q] = g
    step = (1 + growth) ** 0.25  # quarter on quarter
    start = np.array([cloud.it_mw.get(r, 0.0) for r in s.regions])
    level = start[None, :] * np.cumprod(np.concatenate([[1.0], step[1:]]))[:, None]  # quarter, region
    before = np.vstack([start[None, :] / step[0], level[:-1]])
    added = np.clip(level - before, 0, None)
    retired = before / (4 * cloud.server_life_years)
    pue = np.array([s.pue_of(r) for r in s.regions])
    return CloudCapex(
        it_mw=level.sum(1),
        server_capex_usd=((added + retired) * cloud.server_usd_per_it_mw).sum(1),
        building_capex_usd=(added * pue[None, :]).sum(1) * building_usd_per_mw(cloud),
    )
