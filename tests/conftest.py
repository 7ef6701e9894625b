"""Shared test helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pacer.cli import main


class CliRun:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def pacer_cli(capsys: pytest.CaptureFixture[str]):
    """Run the ``pacer`` CLI in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
