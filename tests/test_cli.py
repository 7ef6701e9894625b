"""End-to-end tests of the ``pacer`` command line and its JSON contract."""

import subprocess
import sys
from pathlib import Path

import pytest

INFERENCE_KEYS = {"fits", "max_batch", "max_output_tokens_per_s", "ttft_s", "tpot_s", "power_kw",
                  "usd_per_million_output_tokens"}
TRAINING_KEYS = {"train_flops", "tflops_per_gpu", "gpu_hours", "days", "energy_mwh", "cost_usd"}


def test_size_inference_json_contract(pacer_cli):
    run = pacer_cli("size", "inference", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--count", "1",
                    "--precision", "fp8", "--input-tokens", "128", "--output-tokens", "128", "--json")
    assert run.code == 0, run.err
    data = run.json()
    assert set(data) >= INFERENCE_KEYS
    assert data["fits"] is True and data["max_output_tokens_per_s"] > 1000


def test_size_training_json_contract(pacer_cli):
    run = pacer_cli("size", "training", "--model", "llama-3.1-70b", "--tokens", "15e12", "--gpus", "4096", "--json")
    assert run.code == 0, run.err
    data = run.json()
    assert set(data) >= TRAINING_KEYS and data["days"] > 0
    no_gpus = pacer_cli("size", "training", "--model", "llama-3.1-70b", "--tokens", "15e12", "--json").json()
    assert TRAINING_KEYS - {"days"} <= set(no_gpus)


def test_tables_without_json(pacer_cli):
    run = pacer_cli("size", "inference", "--model", "llama-3.1-70b", "--accelerator", "h100-sxm",
                    "--precision", "fp8", "--rate", "10", "--tpot-ms", "50")
    assert run.code == 0 and "accelerators needed" in run.out
    assert "TFLOP/s" in pacer_cli("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12").out
    assert "h100-sxm" in pacer_cli("catalog", "accelerators").out
    assert "deepseek-v3" in pacer_cli("catalog", "models").out


def test_search_writes_plot(pacer_cli, tmp_path):
    plot = tmp_path / "sub" / "front.html"
    run = pacer_cli("size", "search", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm", "--accelerator", "h200",
                    "--tpot-ms", "40", "--plot", str(plot), "--json")
    assert run.code == 0, run.err
    assert run.json()["front"] and plot.read_text().count("plotly") > 2


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--model", "llama-3.1-8c"], "model: unknown model 'llama-3.1-8c'; did you mean llama-3.1-8b"),
        (["--accelerator", "h100"], "accelerator: unknown accelerator 'h100'"),
        (["--count", "0"], "count: must be a positive integer, got 0"),
        (["--accelerator", "a100-80gb", "--precision", "fp8"], "precision: a100-80gb has no fp8 support"),
        (["--tpot-ms", "-1"], "tpot_ms: must be > 0, got -1.0"),
        (["--input-tokens", "2000000"], "input_tokens: with output_tokens"),  # the model's context window
        (["--rate", "1e308"], "rate_rps: must be at most"),  # was an OverflowError
        (["--stack", "vlm"], "stack: unknown serving stack 'vlm'; allowed: tuned, trtllm, vllm"),
        (["--accelerator", "mi300x", "--stack", "trtllm"], "stack: 'trtllm' does not run on mi300x (amd)"),
        (["--stack", "jetstream", "--accelerator", "tpu-v6e", "--precision", "fp8"], "tpu-v6e has no fp8"),
        (["--mode", "disaggregated", "--count", "1"], "count: a disaggregated deployment needs at least 2"),
        (["--mode", "disaggregated", "--count", "8", "--expert-parallel", "8"], "expert_parallel: llama-3.1-8b is "
                                                                                 "a dense model"),
        (["--prefill-gpus", "2", "--decode-gpus", "6"], "prefill_gpus: applies to --mode disaggregated only"),
        (["--count", "8", "--tensor-parallel", "3"],
         "tensor_parallel: must be one of 1, 2, 4, 8 on 8 x h100-sxm, got 3"),
        (["--max-batch", "-4"], "max_batch: must be a positive integer, got -4"),
        (["--mode", "disaggregated", "--count", "8", "--max-batch", "64"], "max_batch: applies to --mode aggregated"),
    ],
)
def test_bad_values_one_line_exit_2(pacer_cli, args, field):
    base = {"--model": "llama-3.1-8b", "--accelerator": "h100-sxm"}
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for k, v in (base | pairs).items() for x in (k, v)]
    run = pacer_cli("size", "inference", *argv)
    assert run.code == 2
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]


def test_stack_and_mode_on_the_command_line(pacer_cli):
    base = ("size", "inference", "--model", "llama-3.1-70b", "--accelerator", "h100-sxm", "--count", "8",
            "--precision", "fp8", "--json")
    tuned, vllm = pacer_cli(*base, "--stack", "tuned").json(), pacer_cli(*base, "--stack", "vllm").json()
    assert tuned["stack"] == "tuned" and vllm["stack"] == "vllm"
    assert vllm["max_output_tokens_per_s"] < tuned["max_output_tokens_per_s"]
    stated = pacer_cli(*base, "--tensor-parallel", "8", "--max-batch", "256").json()
    assert stated["tensor_parallel"] == 8 and stated["replicas"] == 1 and stated["batch"] <= 256
    split = pacer_cli(*base, "--mode", "disaggregated", "--prefill-gpus", "2", "--decode-gpus", "6").json()
    assert (split["mode"], split["prefill_gpus"], split["decode_gpus"]) == ("disaggregated", 2, 6)
    assert split["decode_output_tokens_per_s"] >= split["max_output_tokens_per_s"] > 0
    weight_only = pacer_cli("size", "inference", "--model", "llama-3.1-70b", "--accelerator", "a100-80gb",
                            "--precision", "w4a16", "--json").json()
    assert weight_only["fits"] and weight_only["kv_precision"] == "bf16" and weight_only["count"] <= 2
    training = pacer_cli("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12", "--accelerator",
                         "tpu-v6e", "--gpus", "256", "--stack", "jax", "--json").json()
    assert training["stack"] == "jax"
    strong = pacer_cli("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12", "--accelerator", "gb200",
                       "--gpus", "512", "--precision", "fp8", "--global-batch", "64", "--json").json()
    assert strong["mfu"] < 0.25
    bad = pacer_cli("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12", "--global-batch", "0")
    assert bad.code == 2
    assert bad.err.strip() == "error: global_batch: must be a positive integer (sequences per step), got 0"
    assert pacer_cli("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12", "--stack", "trtllm").code == 2
    assert "optimum-habana" in pacer_cli("catalog", "stacks").out


def test_usage_errors_exit_2(pacer_cli):
    assert pacer_cli("size", "inference", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm",
                     "--precision", "fp9").code == 2
    assert pacer_cli("size", "training", "--model", "x").code == 2  # missing --tokens


def test_installed_entry_point():
    out = subprocess.run([sys.executable, "-m", "pacer", "version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip()


SEED = "examples/seed-2025/scenario.yaml"


def test_demand_json_contract(pacer_cli, tmp_path):
    plot = tmp_path / "fan.html"
    run = pacer_cli("demand", SEED, "--paths", "300", "--leaves", "10", "--json", "--plot", str(plot))
    assert run.code == 0, run.err
    data = run.json()
    assert {"quarters", "nodes", "inference_share", "gpus_h100e", "facility_mw", "ranges"} <= set(data)
    assert data["quarters"][0] == "2023Q1" and len(data["quarters"]) == 32
    assert data["leaves"] == 10 and data["nodes"] > 32
    assert set(data["inference_share"]) == {str(y) for y in range(2023, 2031)}
    assert data["ranges"]["2026"]["facility_mw"]["max"] >= data["facility_mw"]["2026"] >= \
        data["ranges"]["2026"]["facility_mw"]["min"]
    assert plot.read_text().count("plotly") > 2


def test_demand_table_output(pacer_cli):
    run = pacer_cli("demand", SEED, "--paths", "200", "--leaves", "5")
    assert run.code == 0 and "inference share" in run.out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("annual_volatility: 0.5", "annual_volatility: -0.5"), "annual_volatility"),
        (("model: llama-3.1-70b", "model: llama-3.1-7b"), "model: unknown model"),
        (("branch_quarters: [2024Q1, 2025Q1, 2026Q1]", "branch_quarters: [2024Q1, 2035Q1]"), "branch_quarters[1]"),
    ],
)
def test_demand_bad_scenario_exit_2(pacer_cli, tmp_path, edit, message):
    text = Path(SEED).read_text()
    assert edit[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(edit[0], edit[1], 1))
    out = tmp_path / "fan.html"
    run = pacer_cli("demand", str(bad), "--plot", str(out))
    assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1
    assert not out.exists()  # nothing half-written


def test_plan_json_on_small_scenario(pacer_cli, tmp_path):
    import yaml

    from tests.plan.conftest import mini

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    run = pacer_cli("plan", str(path), "--json", "--paths", "30", "--perfect-foresight-paths", "1")
    assert run.code == 0, run.err
    data = run.json()
    assert data["status"] == "optimal" and data["gap"] <= 1e-7
    for key in ("objective_usd", "bound_usd", "gap", "engine", "workers", "projects", "nodes", "build_seconds",
                "solve_seconds"):
        assert key in data, key
    assert data["bound_usd"] >= data["objective_usd"] and data["engine"] == "extensive" and data["workers"] == 1
    assert set(data["evaluation"]) >= {"stochastic", "deterministic", "build_all", "perfect_foresight"}
    table = pacer_cli("plan", str(path), "--no-evaluate")
    assert table.code == 0 and "pacing plan" in table.out


def test_plan_bad_input_exit_2(pacer_cli, tmp_path):
    import yaml

    from tests.plan.conftest import mini

    raw = mini()
    raw["provider"]["projects"][0]["power_mw"] = -5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    run = pacer_cli("plan", str(path), "--json")
    assert run.code == 2 and "provider.projects[0].power_mw" in run.err and run.out == ""
    no_provider = tmp_path / "np.yaml"
    raw = mini()
    del raw["provider"]
    no_provider.write_text(yaml.safe_dump(raw))
    run = pacer_cli("plan", str(no_provider))
    assert run.code == 2 and run.err.startswith("error: provider:")


@pytest.mark.parametrize(("flags", "message"), [
    (("--workers", "0"), "workers: must be a whole number >= 1, got 0"),
    (("--workers", "-2"), "workers: must be a whole number >= 1, got -2"),
    (("--engine", "cluster"), "engine: must be one of auto, extensive, decomposed, got 'cluster'"),
    (("--accept-gap", "1.5"), "accept_gap: must be in [0, 1), got 1.5"),
    (("--accept-gap", "-0.1"), "accept_gap: must be in [0, 1), got -0.1"),
])
def test_plan_flags_are_checked(pacer_cli, flags, message):
    run = pacer_cli("plan", SEED, "--json", *flags)
    assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1 and run.out == ""


@pytest.mark.parametrize(("flags", "module", "hint"), [
    (("--engine", "decomposed"), "mpisppy", "needs mpi-sppy and MPI installed: pip install 'pacer[mpi]'"),
    (("--engine", "decomposed"), "mpi4py", "needs mpi-sppy and MPI installed: pip install 'pacer[mpi]'"),
])
def test_missing_engine_is_one_line_with_how_to_install(pacer_cli, monkeypatch, flags, module, hint):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    run = pacer_cli("plan", SEED, "--json", *flags)
    assert run.code == 2 and hint in run.err and len(run.err.strip().splitlines()) == 1 and run.out == ""


def test_missing_ray_is_one_line_with_how_to_install(pacer_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    run = pacer_cli("simulate", SEED, "--executor", "ray")
    assert run.code == 2 and "pip install 'pacer[ray]'" in run.err and len(run.err.strip().splitlines()) == 1


def test_unproven_plan_exits_3_with_one_line(pacer_cli, tmp_path):
    """A solve stopped before proving a plan is never shown as a plan."""
    import yaml

    from tests.plan.conftest import mini

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    run = pacer_cli("plan", str(path), "--json", "--time-limit", "0.0001", "--no-evaluate")
    assert run.code == 3 and run.out == ""
    line = run.err.strip()
    assert len(line.splitlines()) == 1 and "plan not proven" in line and "--time-limit" in line
    assert pacer_cli("runs", "list", "--json").out.strip() in ("[]", "")  # nothing stored


def test_plan_json_stdout_is_clean_in_a_real_process(tmp_path):
    """Native solver banners must not reach stdout: scripts parse it."""
    import json
    import subprocess
    import sys

    import yaml

    from tests.plan.conftest import mini

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    out = subprocess.run([sys.executable, "-m", "pacer", "plan", str(path), "--json", "--paths", "20",
                          "--perfect-foresight-paths", "1"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["status"] == "optimal"


def test_serve_and_simulate_flags_are_checked(pacer_cli):
    run = pacer_cli("serve", "--port", "0")
    assert run.code == 2 and "port" in run.err
    run = pacer_cli("simulate", "examples/seed-2025/scenario.yaml", "--executor", "cluster")
    assert run.code == 2 and "executor" in run.err


def test_output_onto_a_folder_or_a_negative_count_is_one_line(pacer_cli, tmp_path):
    """Probe failures (issue 13): -o onto a folder, --perfect-foresight-paths -1."""
    folder = tmp_path / "out.html"
    folder.mkdir()
    run = pacer_cli("report", "--scenario", "examples/seed-2025/scenario.yaml", "-o", str(folder))
    assert run.code == 2 and "output: is a folder" in run.err and run.err.strip().count("\n") == 0
    run = pacer_cli("plan", "examples/seed-2025/scenario.yaml", "--perfect-foresight-paths", "-1", "--no-save")
    assert run.code == 2 and "perfect_foresight_paths: must be >= 0" in run.err
    assert not list(tmp_path.glob("*.tmp"))
