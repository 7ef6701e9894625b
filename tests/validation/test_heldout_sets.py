"""A held-out set kept outside the repository is judged by the validation benchmark like the repository's
own: each row through the CLI, errors overall and per vendor against the targets, ``fits`` rows counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from benchmarks.validation import HOLDOUT, heldout_paths, main_bench

REPO = Path(__file__).resolve().parents[2]
ROWS = ["H19", "H25", "H34", "H37", "H38"]  # h200, h100-sxm, mi300x; two fits rows (one no, one yes)


@pytest.fixture
def outside_set(tmp_path) -> Path:
    table = pd.read_csv(HOLDOUT, comment="#", dtype={"id": str})
    path = tmp_path / "heldout.csv"
    table[table.id.isin(ROWS)].to_csv(path, index=False)
    return path


def test_an_outside_set_is_judged_against_the_targets(outside_set, monkeypatch):
    monkeypatch.delenv("PACER_HELDOUT", raising=False)
    result = main_bench([outside_set], only=True)
    assert list(result) == ["benchmark", "heldout:heldout.csv"]
    judged = result["heldout:heldout.csv"]
    assert judged["rows"] == 5 and set(judged["per_row"]) == set(ROWS)
    measured = judged["measured"]
    assert measured["rows"] == 3 and measured["rows_per_vendor"] == {"nvidia": 2, "amd": 1}
    errors = [abs(judged["per_row"][i]["relative_error"]) for i in ("H19", "H25", "H34")]
    assert measured["median_abs_relative_error"] == pytest.approx(sorted(errors)[1], abs=1e-4)  # per_row: 4 digits
    assert measured["per_vendor"]["amd"] == pytest.approx(errors[2], abs=1e-4)
    assert judged["fits_right"] == "2 of 2"
    targets = judged["targets"]
    assert targets["overall_met"] == (measured["median_abs_relative_error"] <= 0.10)
    assert targets["per_vendor_met"] == {v: e <= 0.15 for v, e in measured["per_vendor"].items()}


def test_rows_without_a_model_are_judged_too(tmp_path, monkeypatch):
    """A power row names an accelerator but no model (the repository's published set has two)."""
    monkeypatch.delenv("PACER_HELDOUT", raising=False)
    path = tmp_path / "power.csv"
    path.write_text("id,kind,model,accelerator,count,precision,input_tokens,output_tokens,train_tokens,metric,value,"
                    "unit,source\nW1,power,,h100-sxm,8,,,,,server_power_kw,10.2,kW,NVIDIA DGX H100 data sheet\n")
    judged = main_bench([path], only=True)["heldout:power.csv"]
    assert judged["measured"]["rows_per_vendor"] == {"nvidia": 1}
    assert abs(judged["per_row"]["W1"]["relative_error"]) < 0.05


def test_training_rates_are_judged_at_their_sequence_and_global_batch(tmp_path, monkeypatch):
    """A tokens/s row goes through `pacer size training` with its sequence length and global batch, and
    the bench reads the same number as the calibration's own estimate (software dated today)."""
    from pacer.sizing.calibration import load_targets, predict

    monkeypatch.delenv("PACER_HELDOUT", raising=False)
    path = tmp_path / "training.csv"
    path.write_text("id,kind,model,accelerator,count,precision,input_tokens,output_tokens,train_tokens,metric,value,"
                    "unit,source,global_batch\n"
                    "R1,training,llama-3.1-8b,gb200,512,fp8,8192,,,train_tokens_per_s_per_gpu,11358.7,tokens/s,"
                    "MLPerf Training v5.1 (as calibration row TR045),64\n"
                    "R2,training,llama-3.1-8b,gb200,512,fp8,8192,,,train_tokens_per_s_per_gpu,11358.7,tokens/s,"
                    "the same run without its batch,\n")
    judged = main_bench([path], only=True)["heldout:training.csv"]["per_row"]
    row = load_targets(path).iloc[0].to_dict()
    assert judged["R1"]["estimate"] == pytest.approx(predict(row), rel=1e-6)
    assert judged["R1"]["estimate"] < 0.6 * judged["R2"]["estimate"]  # 0.125 sequences per GPU per step


def test_a_configuration_that_is_not_a_whole_number_is_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,kind,model,accelerator,count,precision,input_tokens,output_tokens,train_tokens,metric,value,"
                    "unit,source,tensor_parallel\n"
                    "B1,inference,llama-3.1-8b,h100-sxm,8,fp8,128,128,,max_output_tokens_per_s,1000,tokens/s,x,2.5\n")
    done = _bench("--set", str(path), "--only")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == ["error: B1.tensor_parallel: must be a positive whole number, got 2.5"]


def test_the_environment_names_sets_too(outside_set, monkeypatch):
    monkeypatch.setenv("PACER_HELDOUT", str(outside_set))
    assert heldout_paths() == [outside_set]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "benchmarks/validation.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")})


def test_the_command_line_judges_a_set_and_prints_json(outside_set):
    done = _bench("--set", str(outside_set), "--only")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["heldout:heldout.csv"]["rows"] == 5


def test_a_missing_or_bad_set_is_one_line_and_exit_2(tmp_path):
    done = _bench("--set", str(tmp_path / "nope.csv"), "--only")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "nope.csv" in done.stderr and "--set" in done.stderr
    bad = tmp_path / "bad.csv"
    table = pd.read_csv(HOLDOUT, comment="#", dtype={"id": str}).head(1).assign(model="llama-9-1t")
    table.to_csv(bad, index=False)
    done = _bench("--set", str(bad), "--only")
    assert done.returncode == 2 and "llama-9-1t" in done.stderr and done.stderr.strip().count("\n") == 0
