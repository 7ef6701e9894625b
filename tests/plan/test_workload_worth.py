"""H100-equivalents per workload in the planner: the simulator's split of each generation's GPUs between
workloads is the LP optimum, and the plan's JSON carries the sizing engine's per-workload worth."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pacer.plan.evaluate import dispatch_own

values = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


def _lp_value(fleet, worth, demand, gain):
    """max sum_w gain_w own_w, own_w <= demand_w, own_w <= sum_g a_gw worth_gw, sum_w a_gw <= fleet_g."""
    g = len(fleet)
    # variables: a_g0, a_g1 (2g), own_0, own_1
    c = np.zeros(2 * g + 2)
    c[-2:] = -gain
    rows, rhs = [], []
    for i in range(g):
        row = np.zeros(2 * g + 2)
        row[i], row[g + i] = 1, 1
        rows.append(row)
        rhs.append(fleet[i])
    for w in range(2):
        row = np.zeros(2 * g + 2)
        row[w * g:(w + 1) * g] = -worth[:, w]
        row[2 * g + w] = 1
        rows.append(row)
        rhs.append(0.0)
    bounds = [(0, None)] * (2 * g) + [(0, demand[0]), (0, demand[1])]
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    return -res.fun


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda g: st.tuples(
    st.lists(values, min_size=g, max_size=g), st.lists(st.floats(0.1, 4.0), min_size=2 * g, max_size=2 * g),
    st.tuples(values, values), st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 5.0)))))
def test_dispatch_is_the_lp_optimum(case):
    fleet, worth, demand, gain = case
    g = len(fleet)
    worth = np.array(worth).reshape(g, 2)
    fleet_a = np.array(fleet)[None, :, None, None]  # path, generation, region, quarter
    demand_a = np.array(demand)[None, None, :, None]  # path, region, workload, quarter
    own = dispatch_own(fleet_a, worth, demand_a, np.array(gain))[0, 0, :, 0]
    assert (own <= np.array(demand) + 1e-9).all() and (own >= -1e-12).all()
    value = float(np.dot(gain, own))
    assert value >= _lp_value(np.array(fleet), worth, np.array(demand), np.array(gain)) - 1e-6 * (1 + abs(value))


def test_a_generation_counts_differently_for_training_and_serving(tmp_path):
    from pacer.demand import forecast
    from pacer.plan.problem import build_problem
    from pacer.scenario import load_scenario

    s = load_scenario("examples/seed-2025/scenario.yaml")
    problem = build_problem(s, forecast(s, paths=40, leaves=2))
    gens = problem.generations.set_index("accelerator")
    assert gens.loc["h100-sxm", "h100e_training"] == 1.0 and gens.loc["h100-sxm", "h100e_inference"] == 1.0
    # Blackwell serving at the scenario's precision is worth more H100s than Blackwell training at bf16.
    assert gens.loc["b200", "h100e_inference"] != gens.loc["b200", "h100e_training"]
    assert not np.isclose(gens.loc["b200", "h100e_training"], 2250 / 989.4, rtol=0.01)  # not the bf16 peak ratio
