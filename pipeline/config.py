"""Typed, strict configuration: dataclass defaults < params.yaml (+ profile) < --set overrides.

params.yaml layout:
    profile: default          # name of a file in profiles/ whose sections override params.yaml
    data_root: ../shared/data # where relative source URIs resolve; LMPIPE_DATA overrides it
    paths: {docs: data/docs, ...}   # every artifact path, written once
    cost: {country_iso_code: USA}   # compute and energy accounting of every stage (pipeline/cost.py)
    <stage>: {...}            # one section per stage

Fields of a stage Config named like a `paths` key (or `data_root`, `profile`) are filled from there, so a
path is written once and both the producing and the consuming stage read it.
An unknown key or a value of the wrong type raises ConfigError naming the key.
"""
from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from pipeline.cost import Config as CostConfig
from pipeline.env import project_root
from pipeline.errors import ConfigError

TOP_LEVEL_KEYS = {"profile", "data_root", "paths", "cost"}


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data


def parse_overrides(pairs: list[str]) -> dict:
    """['pretrain.max_steps=10', 'profile=tiny'] -> nested dict; values parsed as YAML."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value):
            value = float(value)  # YAML 1.1 reads `1e-3` as a string
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def load_params(params_path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """params.yaml merged with its profile, then with overrides. `profile` may itself be overridden."""
    params_path = Path(params_path) if params_path else project_root() / "params.yaml"
    params = _read_yaml(params_path)
    overrides = overrides or {}
    profile = overrides.get("profile", params.get("profile", "default"))
    profile_file = params_path.parent / "profiles" / f"{profile}.yaml"
    if profile_file.exists():  # profiles/default.yaml is empty: dvc.yaml depends on the active file
        params = deep_merge(params, _read_yaml(profile_file))
    elif profile != "default":
        others = sorted(p.stem for p in (params_path.parent / "profiles").glob("*.yaml") if p.stem != "default")
        raise ConfigError(f"profile: unknown profile {profile!r} (known: {', '.join(['default', *others])})")
    params = deep_merge(params, overrides)
    params["profile"] = profile
    if os.environ.get("LMPIPE_DATA"):
        params["data_root"] = os.environ["LMPIPE_DATA"]
    return params


# ---------------------------------------------------------------------------- typed building

_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; convert only lossless cases (int -> float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item_tp,) = args or (Any,)
        return [coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        key_tp, val_tp = args or (Any, Any)
        return {k: coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return build(tp, value, prefix=key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
            # PyYAML follows YAML 1.1, which reads `1e-3` (no dot) as a string.
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def check_ranges(cfg: Any, checks: dict[str, bool]) -> None:
    """For a Config's __post_init__: {field: its value is in range}; the first that is not raises
    ValueError naming it (build() turns that into a ConfigError with the key's full name)."""
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"{bad[0]}: out of range ({getattr(cfg, bad[0])!r})")


def build(cls: type, values: dict, prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from `values`, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            raise ConfigError(f"{full}: unknown key (known: {', '.join(sorted(fields))})")
        kwargs[key] = coerce(value, hints[key], full)
    missing = [n for n, f in fields.items() if n not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{prefix or cls.__name__}: missing required key(s): {', '.join(missing)}")
    try:
        cfg = cls(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ checks raise ValueError with the key
        raise ConfigError(f"{prefix}: {exc}") from None
    return cfg


def stage_config(stage: str, cls: type, params: dict) -> Any:
    """The Config of `stage`: its section plus the shared paths/data_root its fields name."""
    unknown_top = set(params) - TOP_LEVEL_KEYS - set(_known_sections())
    if unknown_top:
        raise ConfigError(f"{sorted(unknown_top)[0]}: unknown top-level key in params")
    section = _section(params, stage)
    field_names = {f.name for f in dataclasses.fields(cls)}
    shared = {"data_root": params.get("data_root"), "profile": params.get("profile"), **(params.get("paths") or {})}
    injected = {k: v for k, v in shared.items() if k in field_names and v is not None}
    for key in section:
        if key in injected:
            raise ConfigError(f"{stage}.{key}: set it once, under paths/ or data_root, not in the stage section")
    return build(cls, {**injected, **section}, prefix=stage)


def cost_config(params: dict) -> CostConfig:
    """The top-level `cost` section, checked like a stage's: every stage run is accounted with it."""
    return build(CostConfig, _section(params, "cost"), prefix="cost")


def _section(params: dict, name: str) -> dict:
    section = params.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{name}: expected a mapping")
    return section


def _known_sections() -> list[str]:
    from pipeline.stages import STAGES

    return list(STAGES)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def resolve_path(path: str | Path) -> Path:
    """Relative artifact paths are relative to the project root, wherever the process runs."""
    p = Path(path)
    return p if p.is_absolute() else project_root() / p
