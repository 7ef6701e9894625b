"""A misused command line prints one line naming the option or argument and exits 2 (probe failures, issue 14).

Every case here fails while the arguments are parsed: nothing is loaded, sized or solved.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer

from pacer.cli import app

S = "examples/seed-2025/scenario.yaml"
HUGE = "100000000000000000000"
INFER = ("size", "inference", "--model", "llama-3.1-8b", "--accelerator", "h100-sxm")
TRAIN = ("size", "training", "--model", "llama-3.1-8b", "--tokens", "1e12")
CAL = ("calibrate", S, "--param", "market.tenants[lab].demand.start_kh100e=1:4", "-o", "calibrated.yaml")
BOX = re.compile("[\u2500-\u257f]")

CASES = [
    # (argv, what the one line must say: the option or argument, and the value where there is one)
    ((*INFER, "--precision", "fp9"), "--precision: must be one of bf16, fp16, fp8, int8, fp4, w8a16, w4a16, got 'fp9'"),
    (("size", "inference", "--model"), "--model: needs a value, got none"),
    (("size", "inference", "--model", "llama-3.1-8b"), "--accelerator: required by pacer size inference"),
    ((*INFER, "--count", "lots"), "--count: must be an integer, got 'lots'"),
    ((*INFER, "--mode", "sideways"), "--mode: must be one of aggregated, disaggregated, got 'sideways'"),
    ((*INFER, "--ttft-ms", "fast"), "--ttft-ms: must be a number, got 'fast'"),
    ((*INFER, "--kv-precision", "fp3"), "--kv-precision: must be one of"),
    ((*INFER, "--count-gpus", "8"), "--count-gpus: no such option of pacer size inference (did you mean --count"),
    (("size", "training", "--model", "llama-3.1-8b"), "--tokens: required by pacer size training, got none"),
    (("size", "training", "--model", "llama-3.1-8b", "--tokens", "many"), "--tokens: must be a number, got 'many'"),
    ((*TRAIN, "--gpus", "1e20"), "--gpus: must be an integer <= 10000000, got '1e20'"),
    ((*TRAIN, "--gpus", HUGE), f"--gpus: must be an integer <= 10000000, got {HUGE}"),
    ((*TRAIN, "--sequence-tokens", "2.5"), "--sequence-tokens: must be an integer"),
    (("size", "search", "--model", "llama-3.1-8b", "--precision", "zz"), "--precision: must be one of"),
    (("size", "frobnicate"), "command: must be one of inference, training, search (of pacer size), got 'frobnicate'"),
    (("demand",), "scenario: required by pacer demand, got none"),
    (("demand", S, "--seed", "-1"), "--seed: must be an integer from 0 to 4294967295, got -1"),
    (("demand", S, "--seed", HUGE), f"--seed: must be an integer from 0 to 4294967295, got {HUGE}"),
    (("demand", S, "--paths", "many"), "--paths: must be an integer, got 'many'"),
    (("plan",), "scenario: required by pacer plan, got none"),
    (("plan", "a.yaml", "b.yaml"), "pacer plan: unexpected extra argument, got 'b.yaml'"),
    (("plan", S, "--leaves", "abc"), "--leaves: must be an integer, got 'abc'"),
    (("plan", S, "--leaves", "1e3"), "--leaves: must be an integer, got '1e3'"),
    (("plan", S, "--workers", "1e20"), "--workers: must be an integer <= 1024, got '1e20'"),
    (("plan", S, "--perfect-foresight-paths", HUGE),
     f"--perfect-foresight-paths: must be an integer <= 1000, got {HUGE}"),
    (("plan", S, "--rolling-paths", HUGE), f"--rolling-paths: must be an integer <= 10000, got {HUGE}"),
    (("plan", S, "--paths", HUGE), f"--paths: must be an integer <= 100000, got {HUGE}"),
    (("plan", S, "--time-limit", "soon"), "--time-limit: must be a number, got 'soon'"),
    (("plan", S, "--evaluate=maybe"), "--evaluate: does not take a value"),
    (("simulate",), "scenario: required by pacer simulate, got none"),
    (("simulate", S, "--executors", "local"), "--executors: no such option of pacer simulate"),
    (("report", "--frob"), "--frob: no such option of pacer report, got --frob"),
    (("report", "-o"), "-o: needs a value, got none"),
    (("runs", "list", "--limit", "1e20"), "--limit: must be an integer from 1 to 100000, got '1e20'"),
    (("runs", "list", "--limit", HUGE), f"--limit: must be an integer from 1 to 100000, got {HUGE}"),
    (("runs", "list", "--limit", "0"), "--limit: must be an integer from 1 to 100000, got 0"),
    (("runs", "list", "--limit", "2.5"), "--limit: must be an integer from 1 to 100000, got '2.5'"),
    (("runs", "show"), "run_id: required by pacer runs show, got none"),
    (("runs", "show", "a", "b"), "pacer runs show: unexpected extra argument, got 'b'"),
    (("runs", "compare"), "run_ids: required by pacer runs compare, got none"),
    (("runs", "delete"), "run_id: required by pacer runs delete, got none"),
    (("runs", "delete", "a", "--json"), "--json: no such option of pacer runs delete"),
    (("runs", "purge"), "command: must be one of list, show, compare, delete (of pacer runs), got 'purge'"),
    (("serve", "--port", "70000"), "--port: must be an integer from 1 to 65535, got 70000"),
    (("serve", "--port", "http"), "--port: must be an integer from 1 to 65535, got 'http'"),
    (("serve", "--host"), "--host: needs a value, got none"),
    (("calibrate", S), "--param: required by pacer calibrate, got none"),
    ((*CAL, "--budget", "1e20"), "--budget: must be an integer <= 100000, got '1e20'"),
    ((*CAL, "--seed", "-5"), "--seed: must be an integer from 0 to 4294967295, got -5"),
    (("catalog", "gpus"), "command: must be one of stacks, accelerators, models (of pacer catalog), got 'gpus'"),
    (("catalog", "models", "--json=yes"), "--json: does not take a value"),
    (("frobnicate",), "command: must be one of demand, plan, simulate, calibrate, report, serve, version, size, "
                      "catalog, runs (of pacer), got 'frobnicate'"),
    (("--frob",), "--frob: no such option of pacer, got --frob"),
    (("version", "extra"), "pacer version: unexpected extra argument, got 'extra'"),
]


@pytest.mark.parametrize(("argv", "line"), CASES, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in enumerate(CASES)])
def test_misuse_is_one_line_exit_2(pacer_cli, argv, line):
    run = pacer_cli(*argv)
    assert run.code == 2, run.err
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), run.err
    assert lines[0].startswith("error: ") and line in lines[0], lines[0]
    assert "Usage" not in run.err and "Traceback" not in run.err and "Try" not in run.err
    assert not BOX.search(run.err)


def test_the_installed_entry_point_prints_one_line_too():
    out = subprocess.run([sys.executable, "-m", "pacer", "runs", "list", "--limit", "1e20"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "error: --limit: must be an integer from 1 to 100000, got '1e20'\n"


@pytest.mark.parametrize("argv", [
    ("--help",), ("plan", "--help"), ("runs", "list", "--help"),
    ("plan", S, "--leaves", "abc", "--help"),  # help is eager: asked for, it wins over a bad value
])
def test_help_exits_0_with_usage(pacer_cli, argv):
    run = pacer_cli(*argv)
    assert run.code == 0, run.err
    assert "Usage" in run.out and run.err == ""


def test_help_names_the_range_of_a_bounded_option(pacer_cli):
    assert "1<=x<=100000" in pacer_cli("runs", "list", "--help").out.replace(" ", "")


@pytest.mark.parametrize("argv", [(), ("size",), ("runs",), ("catalog",)])
def test_a_bare_group_still_shows_its_help(pacer_cli, argv):
    run = pacer_cli(*argv)
    assert run.code == 2 and "Usage" in run.out and "Commands" in run.out and run.err == ""


def test_pacer_errors_stay_one_line(pacer_cli):
    run = pacer_cli("runs", "list", "--kind", "x")
    assert run.code == 2 and run.err == "error: kind: must be demand, plan or simulate, got 'x'\n"


@pytest.fixture
def exit_three():
    @app.command("exit-three", hidden=True)
    def _exit_three() -> None:
        typer.echo("done")
        raise typer.Exit(code=3)

    yield
    app.registered_commands.pop()


def test_a_command_exit_code_is_kept(pacer_cli, exit_three):
    run = pacer_cli("exit-three")
    assert (run.code, run.out, run.err) == (3, "done\n", "")


def test_a_clean_run_exits_0(pacer_cli):
    run = pacer_cli("version")
    assert run.code == 0 and run.out.strip() and run.err == ""


def test_an_error_inside_a_progress_step_is_one_line_in_a_real_process(tmp_path):
    """The spinner draws only on a terminal: piped, an error raised while it runs is the only line."""
    import yaml

    from tests.plan.conftest import mini

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini()))
    out = subprocess.run([sys.executable, "-m", "pacer", "demand", str(path), "--leaves", "99999", "--no-save"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error: leaves:") and out.stderr.count("\n") == 1, out.stderr
