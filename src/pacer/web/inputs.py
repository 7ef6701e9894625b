"""What the web app accepts: request bodies, and scenarios read from posted YAML or the server's own files.

A posted scenario may not make the server read files (``projects_csv``, ``demand.table``), may not use
YAML aliases (a "billion laughs" expansion), nests at most so deep, and is validated under a time limit
(:data:`VALIDATE_TIMEOUT_S`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pacer.errors import PacerError

#: Largest request body accepted (bytes).
MAX_BODY_BYTES = 1_000_000
#: Seconds a scenario may take to validate before the request is refused.
VALIDATE_TIMEOUT_S = 10.0


class ScenarioBody(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    yaml: str | None = Field(default=None, description="scenario as YAML text")
    file: str | None = Field(default=None, description="name of a scenario file the server was given")
    overrides: dict[str, float] = Field(default_factory=dict, max_length=64,
                                        description="assumptions changed by the what-if form: path -> value")


class RunRequest(ScenarioBody):
    kind: Literal["demand", "plan", "simulate"]
    accept_gap: float | None = Field(default=None, ge=0, le=1, description="plans: take a plan whose certified "
                                     "gap is above the planning tolerance but at most this (0.05 = 5%)")


class Scenarios:
    """The scenario files a server was given, and reading posted ones."""

    def __init__(self, paths: list[str] | None) -> None:
        self.files = {Path(f).name: Path(f).resolve() for f in paths or []}

    def names(self) -> list[str]:
        return sorted(self.files)

    def text(self, name: str) -> str | None:
        return self.files[name].read_text() if name in self.files else None

    def source(self, body: ScenarioBody) -> tuple[str, str | None]:
        """The scenario's YAML and, for a given file, its path."""
        if (body.yaml is None) == (body.file is None):
            raise PacerError("scenario: give exactly one of yaml and file, got both or neither")
        if body.file is not None:
            if body.file not in self.files:
                raise PacerError(f"file: not a scenario file this server was given, got {body.file!r}")
            return self.files[body.file].read_text(), str(self.files[body.file])
        assert body.yaml is not None
        if len(body.yaml.encode()) > MAX_BODY_BYTES:
            raise PacerError(f"yaml: larger than {MAX_BODY_BYTES} bytes, got {len(body.yaml)} characters")
        return body.yaml, None

    def load(self, body: ScenarioBody) -> tuple[Any, str, str | None]:
        """(scenario, the text as it will run, its path or None). With overrides, the text is the scenario
        with the overrides written in, so a run keeps exactly what it ran."""
        from pacer.scenario import parse_scenario
        from pacer.whatif import apply_overrides

        text, path = self.source(body)
        data = self.data(text, path)
        base = Path(path).parent if path else Path("/nonexistent")
        if body.overrides:
            if not isinstance(data, dict):
                raise PacerError("scenario: must be a mapping of sections to change its assumptions")
            data, scenario = apply_overrides(data, dict(body.overrides), base)
            return scenario, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), path
        return parse_scenario(copy.deepcopy(data), base), text, path

    def data(self, text: str, path: str | None) -> Any:
        """YAML text as data, with the limits a posted scenario has."""
        from pacer.scenario import read_yaml

        data = read_yaml(text)  # nesting bounded before parsing; malformed YAML: one line with its line
        # Aliases load as shared references, but validating them walks every expansion ("billion laughs").
        if path is None and any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text)):
            raise PacerError("scenario: YAML aliases are not accepted in a posted scenario, got an alias")
        if path is None and isinstance(data, dict):  # a posted scenario may not make the server read files
            if isinstance(data.get("provider"), dict) and data["provider"].get("projects_csv"):
                raise PacerError("provider.projects_csv: not allowed in a posted scenario (the server reads no "
                                 "files but its own), got a path")
            if isinstance(data.get("demand"), dict) and data["demand"].get("table"):
                raise PacerError("demand.table: not allowed in a posted scenario (the server reads no files but "
                                 "its own), got a path")
        return data

    def knobs(self, body: ScenarioBody) -> list[dict[str, Any]]:
        from pacer.whatif import knobs

        text, path = self.source(body)
        data = self.data(text, path)
        if not isinstance(data, dict):
            raise PacerError("scenario: must be a mapping of sections, got " + type(data).__name__)
        return [k.to_dict() for k in knobs(data, Path(path).parent if path else Path("/nonexistent"))]
