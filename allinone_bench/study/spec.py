"""What a study is: a task, a grid of task keys with values, seeds, fixed overrides and launch options.

Written on the command line (``study TASK --grid protocol.rolling=roll,none --seeds 0,1``) or as a YAML file::

    task: tgif_action
    grid: {protocol.rolling: [roll, none, flatten]}
    seeds: [0, 1, 2]
    set: {finetune.epochs: 4}
    output_dir: runs/rolling_ablation

The spec is saved next to the runs (``study.yaml``) so a study's outputs always say what produced them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from allinone_bench.errors import ConfigError
from allinone_bench.tasks.overrides import parse_set_value
from allinone_bench.yamlfile import read_yaml

__all__ = ["StudySpec", "load_study", "parse_grid"]


class StudySpec(BaseModel):
    """A study. ``grid`` maps a dotted task key (as for ``--set``) to the values it takes; the runs are the
    cross product of all grid values and ``seeds``."""

    model_config = ConfigDict(extra="forbid")

    task: str
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0])
    set: dict[str, Any] = Field(default_factory=dict)
    output_dir: Path = Path("runs/study")
    data_root: Path | None = None
    checkpoint: str | None = None
    variant: str | None = None
    zero_shot: bool = False
    description: str = ""
    report: list[str] = Field(default_factory=list)  # extra columns: timing.total_s, flops.attention_gmacs ...

    @field_validator("grid")
    @classmethod
    def _non_empty_axes(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid axis {key!r} has no values")
            if len({repr(v) for v in values}) != len(values):
                raise ValueError(f"grid axis {key!r} repeats a value: {values}")
        return grid

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}")
        return seeds

    def dump(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """``["protocol.rolling=roll,none", "model.variant=ti,s"]`` -> ``{"protocol.rolling": ["roll", "none"], ...}``."""
    grid: dict[str, list[Any]] = {}
    for item in items or ():
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--grid {item!r}: expected key=v1,v2,... e.g. protocol.rolling=roll,none")
        if key.strip() in grid:
            raise ConfigError(f"--grid: key {key.strip()!r} given twice")
        grid[key.strip()] = [parse_set_value(v.strip()) for v in values.split(",")]
    return grid


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2") from None


def load_study(path: Path) -> StudySpec:
    """A study YAML file; errors name the file and the field."""
    raw = read_yaml(path, "study file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a study file is a mapping with at least 'task'")
    return validate(raw, str(path))


def validate(raw: dict[str, Any], where: str) -> StudySpec:
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{where}: study field {loc}: {first['msg']}") from None
