"""Forecast compute and power demand: workloads x sampled drivers -> a scenario tree of GPUs and MW.

Per sampled path, quarter, region and workload (training, inference):

* **Training**: each campaign's runs start every ``repeat_every_quarters`` and last
  ``duration_quarters``; a run's FLOPs grow with the ``training_compute`` driver (relative to the
  campaign's first run) and it runs on the roadmap's accelerator at its start, at the effective FLOP/s
  per GPU the sizing engine gives for that model and accelerator.
* **Inference**: each service's tokens per day grow with ``tokens_served``; algorithmic efficiency
  (``algorithmic_efficiency``, tokens per FLOP) divides the accelerators needed; demand is provisioned
  for the peak (``peak_to_average``) on the roadmap's accelerator of the quarter, at the output
  tokens/s per GPU the sizing engine gives within the service's latency limits.

GPUs convert to H100-equivalents by dense bf16 peak, to IT MW by all-in IT power per GPU and to
facility MW by the region's PUE. The sampled paths are reduced to a tree of the requested size; node
values are the means of their member paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pacer._result import Result, plain
from pacer.catalog import get_accelerator, load_facilities
from pacer.demand.drivers import DriverEvent, sample_growth_paths
from pacer.demand.scenarios import ScenarioTree, leaf_paths, reduce_to_tree, tree_from_scenarios
from pacer.demand.workloads import (
    SECONDS_PER_QUARTER,
    campaign_flops,
    h100e_per_gpu,
    output_tokens_per_gpu_s,
    training_flops_per_gpu_s,
)
from pacer.errors import InputError
from pacer.scenario import Scenario, load_scenario, quarter

WORKLOADS = ("training", "inference")
DRIVERS = ("training_compute", "tokens_served", "algorithmic_efficiency")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(repr=False)
class DemandForecast(Result):
    """Demand per tree node, region and workload; the tree; quantiles of the sampled paths."""

    title = "demand forecast"

    scenario: Scenario
    dataset: xr.Dataset
    tree: ScenarioTree
    quantiles: xr.DataArray = field(default_factory=lambda: xr.DataArray())

    @property
    def quarters(self) -> list[str]:
        """The horizon's quarters, as ``2025Q3`` strings."""
        return list(self.dataset.attrs["quarters"])

    # -- views ---------------------------------------------------------------------------------
    def to_dataset(self) -> xr.Dataset:
        return self.dataset.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per node, region and workload: GPUs in H100e, IT MW, facility MW."""
        return self.dataset[["gpus_h100e", "it_mw", "facility_mw"]].to_dataframe().reset_index()

    def expected(self, variable: str = "gpus_h100e") -> xr.DataArray:
        """Probability-weighted expectation per quarter (and the variable's other dims)."""
        ds = self.dataset
        return (ds[variable] * ds.probability).groupby("quarter").sum()

    def scenarios(self, variable: str = "gpus_h100e") -> xr.DataArray:
        """Each leaf scenario's path of ``variable`` (scenario, quarter, ...)."""
        nodes = self.tree.nodes
        index = leaf_paths(nodes)
        leaves = index[:, -1]
        da = self.dataset[variable]
        data = da.to_numpy()[index]
        return xr.DataArray(data, dims=("scenario", "quarter", *da.dims[1:]),
                            coords={"quarter": self.quarters, **{d: da[d] for d in da.dims[1:]},
                                    "probability": ("scenario", nodes.probability.to_numpy()[leaves])})

    # -- summaries -------------------------------------------------------------------------------
    def _by_year_end(self, expected: xr.DataArray) -> dict[str, float]:
        years = pd.PeriodIndex(expected.quarter.to_numpy(), freq="Q").year
        frame = pd.Series(expected.to_numpy(), index=years)
        return {str(y): float(v) for y, v in frame.groupby(level=0).last().items()}

    def inference_share_by_year(self) -> dict[str, float]:
        """Expected share of compute (H100e, averaged over the year's quarters) that is inference."""
        by_workload = self.expected("gpus_h100e").sum("region")
        frame = pd.DataFrame(by_workload.transpose("quarter", "workload").to_numpy(),
                             index=pd.PeriodIndex(by_workload.quarter.to_numpy(), freq="Q").year,
                             columns=by_workload.workload.to_numpy())
        yearly = frame.groupby(level=0).mean()
        total = yearly["training"] + yearly["inference"]
        share = (yearly["inference"] / total.where(total > 0)).fillna(0.0)
        return {str(y): float(v) for y, v in share.items()}

    def to_dict(self) -> dict[str, Any]:
        """The ``pacer demand --json`` contract."""
        h100e = self.expected("gpus_h100e").sum(("region", "workload"))
        facility = self.expected("facility_mw").sum(("region", "workload"))
        leaves_h100e = self.scenarios("gpus_h100e").sum(("region", "workload"))
        leaves_mw = self.scenarios("facility_mw").sum(("region", "workload"))
        years = pd.PeriodIndex(self.quarters, freq="Q").year
        last_of_year = pd.Series(np.arange(len(years)), index=years).groupby(level=0).last()
        ranges = {}
        for y, qi in last_of_year.items():
            ranges[str(y)] = {
                "gpus_h100e": {"min": float(leaves_h100e[:, qi].min()), "max": float(leaves_h100e[:, qi].max())},
                "facility_mw": {"min": float(leaves_mw[:, qi].min()), "max": float(leaves_mw[:, qi].max())},
            }
        by_tenant = (self.dataset.gpus_h100e_by_tenant * self.dataset.probability).groupby("quarter").sum()
        return plain({
            "scenario": self.scenario.name,
            "quarters": [str(q) for q in self.quarters],
            "nodes": len(self.tree.nodes),
            "leaves": self.tree.n_leaves,
            "inference_share": self.inference_share_by_year(),
            "h100e_per_gpu": self.dataset.attrs["h100e_per_gpu"],
            "gpus_h100e": self._by_year_end(h100e),
            "facility_mw": self._by_year_end(facility),
            "it_mw": self._by_year_end(self.expected("it_mw").sum(("region", "workload"))),
            "gpus_h100e_by_workload": {
                w: self._by_year_end(self.expected("gpus_h100e").sum("region").sel(workload=w)) for w in WORKLOADS},
            "gpus_h100e_by_tenant": {
                str(t): self._by_year_end(by_tenant.sel(tenant=t)) for t in by_tenant.tenant.to_numpy()},
            "facility_mw_by_region": {
                r: self._by_year_end(self.expected("facility_mw").sum("workload").sel(region=r))
                for r in self.scenario.regions},
            "ranges": ranges,
            "note": "gpus_h100e, facility_mw and it_mw are expected values at each year's last quarter; "
                    "inference_share averages the year's quarters; ranges span the tree's leaf scenarios.",
        })

    def summary_rows(self) -> list[tuple[str, Any]]:
        data = self.to_dict()
        rows: list[tuple[str, Any]] = [
            ("scenario", self.scenario.name),
            ("quarters", f"{data['quarters'][0]}..{data['quarters'][-1]}"),
            ("tree", f"{data['nodes']} nodes, {data['leaves']} leaf scenarios"),
        ]
        for year, value in data["gpus_h100e"].items():
            rng = data["ranges"][year]["gpus_h100e"]
            rows.append((f"{year} H100e (expected, range)",
                         f"{value:,.0f}  ({rng['min']:,.0f}-{rng['max']:,.0f})"))
        for year, value in data["facility_mw"].items():
            rows.append((f"{year} facility MW", f"{value:,.0f}"))
        for year, value in data["inference_share"].items():
            rows.append((f"{year} inference share", f"{value:.0%}"))
        return rows


def _drivers(s: Scenario) -> tuple[np.ndarray, np.ndarray, list[DriverEvent]]:
    d = s.demand.drivers
    specs = [getattr(d, name) for name in DRIVERS]
    q0 = quarter(s.horizon.start)
    step_quarter = np.arange(1, len(s.quarters))
    growth = np.empty((len(step_quarter), len(specs)))
    for j, spec in enumerate(specs):
        growth[:, j] = spec.annual_growth
        for start, g in sorted(spec.growth_from.items(), key=lambda kv: quarter(kv[0])):
            growth[step_quarter >= (quarter(start) - q0).n, j] = g
    vol = np.array([x.annual_volatility for x in specs])
    events = [DriverEvent(driver=DRIVERS.index(e.driver), quarter=(quarter(e.quarter) - q0).n,
                          probability=e.probability, kind=e.kind, size=e.size, growth_after=e.growth_after)
              for e in s.demand.events]
    return growth, vol, events


def _per_path_demand(
    s: Scenario, levels: np.ndarray
) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """GPUs per (path, quarter, region, workload, accelerator), the accelerators, the tenants and H100e per
    (path, quarter, tenant, region, workload)."""
    n_paths, n_q, _ = levels.shape
    acc_at = s.accelerator_at()
    accelerators = list(dict.fromkeys(acc_at))
    acc_index = np.array([accelerators.index(a) for a in acc_at])
    regions = s.regions
    tenants = sorted({w.tenant for w in s.demand.training} | {w.tenant for w in s.demand.inference})
    gpus = np.zeros((n_paths, n_q, len(regions), len(WORKLOADS), len(accelerators)))
    by_tenant = np.zeros((n_paths, n_q, len(tenants), len(regions), len(WORKLOADS)))
    q0 = quarter(s.horizon.start)
    quarter_index = np.arange(n_q)
    factors = h100e_factors(s, accelerators)  # (accelerators, workloads)

    train_level = levels[:, :, 0]
    for c in s.demand.training:
        start = (quarter(c.start) - q0).n
        starts = np.arange(start, n_q, c.repeat_every_quarters) if c.repeat_every_quarters else np.array([start])
        flops = campaign_flops(c) * (train_level[:, starts] / train_level[:, [start]] if c.grows_with_driver
                                     else np.ones((n_paths, len(starts))))
        rate = np.array([training_flops_per_gpu_s(c, acc_at[k]) for k in starts])
        run_gpus = flops / (rate * c.duration_quarters * SECONDS_PER_QUARTER)  # (paths, runs)
        ends = starts + c.duration_quarters
        occupancy = (quarter_index[None, :] >= starts[:, None]) & (quarter_index[None, :] < ends[:, None])
        run_acc = np.eye(len(accelerators))[acc_index[starts]]  # (runs, accelerators)
        contribution = np.einsum("pr,rq,ra->pqa", run_gpus, occupancy.astype(float), run_acc)
        gpus[:, :, regions.index(c.region), 0, :] += contribution
        by_tenant[:, :, tenants.index(c.tenant), regions.index(c.region), 0] += contribution @ factors[:, 0]

    tokens_level, efficiency_level = levels[:, :, 1], levels[:, :, 2]
    one_hot = np.eye(len(accelerators))[acc_index]  # (quarters, accelerators)
    for svc in s.demand.inference:
        start = (quarter(svc.start) - q0).n if svc.start else 0
        per_gpu = np.array([output_tokens_per_gpu_s(svc, a) for a in accelerators])[acc_index]  # (quarters,)
        output_rate = (svc.tokens_per_day / 86400 * svc.output_tokens / (svc.input_tokens + svc.output_tokens)
                       * tokens_level / tokens_level[:, [start]] * svc.peak_to_average)
        need = np.where(quarter_index >= start, output_rate / (per_gpu * efficiency_level), 0.0)  # (paths, q)
        contribution = need[:, :, None] * one_hot[None, :, :]
        gpus[:, :, regions.index(svc.region), 1, :] += contribution
        by_tenant[:, :, tenants.index(svc.tenant), regions.index(svc.region), 1] += contribution @ factors[:, 1]
    return gpus, accelerators, tenants, by_tenant


def h100e_per_gpu_of(s: Scenario, accelerators: list[str] | None = None) -> dict[str, dict[str, float]]:
    """H100-equivalents of one accelerator per workload for this scenario's workloads (sizing engine;
    :func:`pacer.demand.workloads.h100e_per_gpu`), for ``accelerators`` (default: the whole roadmap)."""
    names = accelerators if accelerators is not None else list(dict.fromkeys(e.accelerator for e in s.roadmap))
    return h100e_per_gpu(names, s.demand.training, s.demand.inference)


def h100e_factors(s: Scenario, accelerators: list[str]) -> np.ndarray:
    """:func:`h100e_per_gpu_of` as an array (accelerators, workloads)."""
    table = h100e_per_gpu_of(s, accelerators)
    return np.array([[table[a][w] for w in WORKLOADS] for a in accelerators])


def to_h100e(gpus: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """GPUs (..., workload, accelerator) in H100-equivalents (..., workload)."""
    return np.einsum("...wa,aw->...w", gpus, factors)


def _it_w_per_gpu(accelerator: str) -> float:
    overhead = load_facilities().network_storage_overhead.value
    return get_accelerator(accelerator).server_power_per_accelerator_w * (1.0 + overhead)


def demand_paths(s: Scenario, n_paths: int, seed: int) -> np.ndarray:
    """Sampled demand in H100-equivalents per (path, quarter, region, workload), for fresh evaluation."""
    if s.demand.table is not None:
        values, probs, _ = _table_demand(s)
        rng = np.random.default_rng(seed)
        return values[rng.choice(len(probs), size=n_paths, p=probs / probs.sum())]
    growth, vol, events = _drivers(s)
    levels = sample_growth_paths(n_paths, len(s.quarters), growth, vol, correlation=s.demand.drivers.correlation,
                                 events=events, seed=seed)
    gpus, accelerators, _, _ = _per_path_demand(s, levels)
    return to_h100e(gpus, h100e_factors(s, accelerators))


def tenant_demand_paths(s: Scenario, n_paths: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Sampled demand per workload tenant: the tenants and H100-equivalents per (path, quarter, tenant,
    region, workload). Needs workloads (a demand table has no tenants)."""
    if s.demand.table is not None:
        raise InputError("demand.table", s.demand.table, "has no tenants; the market needs workloads")
    growth, vol, events = _drivers(s)
    levels = sample_growth_paths(n_paths, len(s.quarters), growth, vol, correlation=s.demand.drivers.correlation,
                                 events=events, seed=seed)
    _, _, tenants, by_tenant = _per_path_demand(s, levels)
    return tenants, by_tenant


def _table_demand(s: Scenario) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A user's demand table: (scenarios, quarters, regions, workloads) H100e and the probabilities."""
    path = Path(s.demand.table or "")
    if not path.is_absolute():
        path = Path(s.base_dir) / path
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise InputError("demand.table", str(path), "cannot read CSV") from exc
    need = {"scenario", "probability", "quarter", "region", "workload", "gpus_h100e"}
    missing = need - set(table.columns)
    if missing:
        raise InputError("demand.table", sorted(missing), "missing columns")
    for col, allowed in (("region", set(s.regions)), ("workload", set(WORKLOADS))):
        bad = ~table[col].isin(allowed)
        if bad.any():
            raise InputError(f"demand.table.{col}", table[col][bad].iloc[0], f"must be one of {sorted(allowed)}")
    quarters = [str(q) for q in s.quarters]
    bad_q = ~table.quarter.astype(str).isin(quarters)
    if bad_q.any():
        raise InputError("demand.table.quarter", table.quarter[bad_q].iloc[0], "must be inside the horizon")
    if (table.gpus_h100e < 0).any() or table.gpus_h100e.isna().any():
        raise InputError("demand.table.gpus_h100e", table.gpus_h100e.min(), "must be >= 0")
    probs = table.groupby("scenario").probability.agg(["min", "max"])
    if (probs["min"] != probs["max"]).any():
        raise InputError("demand.table.probability", probs.index[probs["min"] != probs["max"]][0],
                         "must be one value per scenario")
    total = float(probs["min"].sum())
    if not np.isclose(total, 1.0, atol=1e-6):
        raise InputError("demand.table.probability", round(total, 6), "must sum to 1 over scenarios")
    names = list(probs.index)
    grid = (table.assign(quarter=table.quarter.astype(str))
            .pivot_table(index=["scenario", "quarter", "region", "workload"], values="gpus_h100e", aggfunc="sum")
            .gpus_h100e)
    full = pd.MultiIndex.from_product([names, quarters, s.regions, list(WORKLOADS)])
    values = grid.reindex(full, fill_value=0.0).to_numpy().reshape(len(names), len(quarters), len(s.regions),
                                                                   len(WORKLOADS))
    return values, probs["min"].to_numpy(), names


#: Most memory the sampled demand arrays of one forecast may take (bytes): past it, fewer paths, one line.
MAX_SAMPLE_BYTES = 2 * 1024**3


def check_sample_memory(n_paths: int, n_quarters: int, n_regions: int, n_accelerators: int, n_tenants: int) -> None:
    """Refuse, before allocating, a forecast whose sampled arrays would pass :data:`MAX_SAMPLE_BYTES`: GPUs per
    (path, quarter, region, workload, accelerator) and demand per tenant, in float64."""
    cells = n_paths * n_quarters * len(WORKLOADS) * n_regions * (n_accelerators + n_tenants)
    need = 8 * cells
    if need > MAX_SAMPLE_BYTES:
        most = max(1, int(n_paths * MAX_SAMPLE_BYTES / need))
        raise InputError("paths", n_paths, f"needs about {need / 1024**3:,.1f} GiB of samples (limit "
                         f"{MAX_SAMPLE_BYTES / 1024**3:.0f} GiB); use at most {most:,} paths")


def forecast(scenario: Scenario | str | Path, *, paths: int | None = None, leaves: int | None = None,
             seed: int | None = None, balanced: bool = False) -> DemandForecast:
    """Forecast demand for ``scenario`` (a :class:`~pacer.scenario.Scenario` or a YAML path).

    Parameters
    ----------
    paths, leaves, seed
        Override the scenario's ``demand.uncertainty`` settings.

    Returns
    -------
    DemandForecast
        ``.dataset``: ``gpus`` (node, region, workload, accelerator), ``gpus_h100e``, ``it_mw`` and
        ``facility_mw`` (node, region, workload), ``gpus_h100e_by_tenant`` (node, tenant), with node
        coordinates ``quarter``, ``parent`` and ``probability``; ``.tree``; ``.quantiles`` of the
        sampled paths' total H100e per workload.
    """
    s = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    u = s.demand.uncertainty
    n_paths = u.paths if paths is None else paths
    n_leaves = u.leaves if leaves is None else leaves
    if n_paths < 1:
        raise InputError("paths", n_paths, "must be >= 1")
    if not 1 <= n_leaves <= n_paths:
        raise InputError("leaves", n_leaves, f"must be between 1 and paths ({n_paths})")
    quarters = [str(q) for q in s.quarters]
    q0 = quarter(s.horizon.start)
    acc_at = s.accelerator_at()
    check_sample_memory(n_paths, len(quarters), len(s.regions), len(dict.fromkeys(acc_at)),
                        len({w.tenant for w in s.demand.training} | {w.tenant for w in s.demand.inference}) or 1)

    if s.demand.table is not None:
        h100e_table, probs, _ = _table_demand(s)
        accelerators = list(dict.fromkeys(acc_at))
        factor_acc = h100e_factors(s, accelerators)
        factor = factor_acc[[accelerators.index(a) for a in acc_at]]  # (quarters, workloads)
        one_hot = np.eye(len(accelerators))[[accelerators.index(a) for a in acc_at]]
        gpus = (h100e_table / factor[None, :, None, :])[..., None] * one_hot[None, :, None, None, :]
        tenants, by_tenant = ["self"], h100e_table.sum(axis=(2, 3))[:, :, None]
        features = h100e_table.reshape(len(probs), len(quarters), -1)
        tree = tree_from_scenarios(features, probs)
        weights = probs
    else:
        growth, vol, events = _drivers(s)
        levels = sample_growth_paths(n_paths, len(quarters), growth, vol,
                                     correlation=s.demand.drivers.correlation, events=events,
                                     seed=u.seed if seed is None else seed)
        gpus, accelerators, tenants, by_tenant_rw = _per_path_demand(s, levels)
        by_tenant = by_tenant_rw.sum(axis=(3, 4))
        factor_acc = h100e_factors(s, accelerators)
        features = to_h100e(gpus, factor_acc).reshape(n_paths, len(quarters), -1)
        branch = [(quarter(b) - q0).n for b in u.branch_quarters]
        tree = reduce_to_tree(features, branch, n_leaves, balanced=balanced)
        weights = np.ones(n_paths) / n_paths

    node_gpus = tree.aggregate(gpus)  # (nodes, regions, workloads, accelerators)
    it_w = np.array([_it_w_per_gpu(a) for a in accelerators])
    pue = np.array([s.pue_of(r) for r in s.regions])
    nodes = tree.nodes
    coords = {
        "node": nodes.node.to_numpy(),
        "quarter": ("node", np.array(quarters)[nodes.quarter.to_numpy()]),
        "parent": ("node", nodes.parent.to_numpy()),
        "probability": ("node", nodes.probability.to_numpy()),
        "region": list(s.regions), "workload": list(WORKLOADS), "accelerator": accelerators,
        "tenant": tenants,
    }
    it_mw = node_gpus @ it_w / 1e6
    ds = xr.Dataset(
        {
            "gpus": (("node", "region", "workload", "accelerator"), node_gpus),
            "gpus_h100e": (("node", "region", "workload"), to_h100e(node_gpus, factor_acc)),
            "it_mw": (("node", "region", "workload"), it_mw),
            "facility_mw": (("node", "region", "workload"), it_mw * pue[None, :, None]),
            "gpus_h100e_by_tenant": (("node", "tenant"), tree.aggregate(by_tenant)),
        },
        coords=coords,
        attrs={"scenario": s.name, "quarters": quarters, "roadmap": acc_at,
               "units": "gpus: accelerators; gpus_h100e: H100-equivalents per workload from the sizing engine "
                        "(h100e_per_gpu); MW: megawatts",
               "h100e_per_gpu": h100e_per_gpu_of(s)},
    )
    total_by_workload = to_h100e(gpus, factor_acc).sum(axis=2)  # (paths, quarters, workloads)
    totals = np.concatenate([total_by_workload, total_by_workload.sum(axis=2, keepdims=True)], axis=2)
    quantiles = xr.DataArray(
        _weighted_quantiles(totals, weights, QUANTILES), dims=("quantile", "quarter", "workload"),
        coords={"quantile": list(QUANTILES), "quarter": quarters, "workload": [*WORKLOADS, "total"]},
        name="gpus_h100e",
    )
    return DemandForecast(scenario=s, dataset=ds, tree=tree, quantiles=quantiles)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles over the first axis of ``values`` with path ``weights`` (vectorised over the rest)."""
    order = np.argsort(values, axis=0)
    sorted_values = np.take_along_axis(values, order, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    cum /= cum[-1:]
    out = np.empty((len(qs), *values.shape[1:]))
    for i, q in enumerate(qs):
        idx = (cum < q).sum(axis=0)
        out[i] = np.take_along_axis(sorted_values, np.minimum(idx, len(weights) - 1)[None], axis=0)[0]
    return out
