import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.demand import reduce_to_tree, sample_growth_paths
from pacer.errors import PacerError


def test_sampled_paths_grow_at_the_stated_mean():
    paths = sample_growth_paths(20_000, 9, [0.5, 1.0], [0.2, 0.4], seed=1)
    assert paths.shape == (20_000, 9, 2)
    assert np.allclose(paths[:, 0, :], 1.0)
    mean_after_two_years = paths[:, 8, :].mean(axis=0)
    assert mean_after_two_years == pytest.approx([1.5**2, 2.0**2], rel=0.03)


def test_shocks_move_the_level():
    calm = sample_growth_paths(5000, 12, [0.3], [0.0], seed=2)
    shocked = sample_growth_paths(5000, 12, [0.3], [0.0], shock_probability_per_year=[1.0], shock_size=[-0.5], seed=2)
    assert shocked[:, -1, 0].mean() < calm[:, -1, 0].mean()


@settings(max_examples=20, deadline=None)
@given(leaves=st.integers(1, 40), n_branch=st.integers(1, 3), seed=st.integers(0, 1000))
def test_tree_probabilities_sum_to_one_and_mean_kept(leaves, n_branch, seed):
    paths = sample_growth_paths(400, 16, [0.4, 0.8], [0.3, 0.5], seed=seed)
    branch_quarters = [2, 6, 10][:n_branch]
    tree = reduce_to_tree(paths, branch_quarters, leaves, drivers=["training", "inference"])
    assert np.allclose(tree.probability_by_quarter().to_numpy(), 1.0)
    assert tree.n_leaves == leaves
    # The reduced tree keeps the sampled mean at every quarter (tolerance: 1e-9 relative).
    np.testing.assert_allclose(tree.expected().to_numpy(), paths.mean(axis=0), rtol=1e-9)
    # Structure: one root, each node's parent is in the previous quarter, no branching off-schedule.
    nodes = tree.nodes
    assert (nodes.parent == -1).sum() == 1
    parents = nodes.set_index("node").loc[nodes.parent[nodes.parent >= 0]]
    assert (parents.quarter.to_numpy() == nodes.quarter[nodes.parent >= 0].to_numpy() - 1).all()
    per_quarter = nodes.groupby("quarter").size()
    changes = per_quarter.index[per_quarter.diff().fillna(0) > 0]
    assert set(changes) <= set(branch_quarters)


def test_scenario_paths_and_spread():
    paths = sample_growth_paths(2000, 12, [0.5], [0.5], seed=3)
    tree = reduce_to_tree(paths, [4, 8], 12)
    scenarios = tree.scenario_paths()
    assert scenarios.sizes["scenario"] == 12
    assert float(scenarios.probability.sum()) == pytest.approx(1.0)
    last = scenarios.isel(quarter=-1, driver=0)
    # The tree keeps real spread: its leaves span more than the middle half of the samples.
    lo, hi = np.quantile(paths[:, -1, 0], [0.25, 0.75])
    assert float(last.min()) < lo and float(last.max()) > hi


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sample_growth_paths(10, 4, [0.1], [-0.2]), "annual_volatility"),
        (lambda: sample_growth_paths(10, 4, [-1.5], [0.2]), "annual_growth"),
        (lambda: reduce_to_tree(np.ones((10, 8, 1)), [9], 2), "branch_quarters"),
        (lambda: reduce_to_tree(np.ones((10, 8, 1)), [3], 11), "leaves"),
    ],
)
def test_bad_input(call, field):
    with pytest.raises(PacerError, match=rf"^{field}: "):
        call()


@pytest.mark.parametrize("quarter_index", [0, 1, 5])
def test_a_certain_jump_doubles_the_level_from_its_quarter_even_the_first(quarter_index):
    """Probe failure (issue 13): a jump in the horizon's first quarter was silently ignored."""
    from pacer.demand.drivers import DriverEvent

    kwargs = {"annual_growth": [0.0], "annual_volatility": [0.0], "seed": 1}
    base = sample_growth_paths(4, 8, **kwargs)
    jumped = sample_growth_paths(4, 8, events=[DriverEvent(driver=0, quarter=quarter_index, probability=1.0,
                                                           kind="jump", size=1.0)], **kwargs)
    ratio = jumped[:, :, 0] / base[:, :, 0]
    np.testing.assert_allclose(ratio[:, quarter_index:], 2.0)
    np.testing.assert_allclose(ratio[:, :quarter_index], 1.0)
