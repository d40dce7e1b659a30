"""Config loading: defaults < params.yaml (+ profile) < --set; unknown/ill-typed keys fail."""
import dataclasses
import subprocess
import sys
from typing import Literal, Optional

import pytest

from pipeline.config import build, load_params, parse_overrides, stage_config
from pipeline.errors import ConfigError
from pipeline.runner import resolve_config
from pipeline.stages import STAGES


@dataclasses.dataclass
class Source:
    uri: str
    limit: Optional[int] = None


@dataclasses.dataclass
class Cfg:
    docs: str = "data/docs"
    steps: int = 3
    lr: float = 1e-3
    mode: Literal["mlm", "clm"] = "mlm"
    sources: list[Source] = dataclasses.field(default_factory=list)


def write_params(root, text, profiles=None):
    (root / "params.yaml").write_text(text)
    (root / "profiles").mkdir(exist_ok=True)
    for name, body in (profiles or {}).items():
        (root / "profiles" / f"{name}.yaml").write_text(body)
    return root / "params.yaml"


def test_build_checks_types_and_coerces_int_to_float():
    cfg = build(Cfg, {"steps": 4, "lr": 1, "sources": [{"uri": "a", "limit": 2}]})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.sources == [Source("a", 2)]


@pytest.mark.parametrize("values, message", [
    ({"steps": "ten"}, "pretrain.steps: expected an integer, got 'ten'"),
    ({"steps": True}, "pretrain.steps: expected an integer"),
    ({"stepz": 1}, "pretrain.stepz: unknown key"),
    ({"mode": "seq2seq"}, "pretrain.mode: expected one of ['mlm', 'clm']"),
    ({"sources": [{"uri": "a", "lim": 1}]}, "pretrain.sources[0].lim: unknown key"),
    ({"sources": [{"limit": 1}]}, "pretrain.sources[0]: missing required key(s): uri"),
    ({"lr": "fast"}, "pretrain.lr: expected a number"),
    ({"steps": 2.5}, "pretrain.steps: expected an integer"),
])
def test_build_rejects_bad_values_naming_the_key(values, message):
    with pytest.raises(ConfigError) as exc:
        build(Cfg, values, prefix="pretrain")
    assert message in str(exc.value)


def test_overrides_parse_yaml_values():
    assert parse_overrides(["a.b=3", "a.c=1e-3", "d=[1, 2]", "e=tiny"]) == {
        "a": {"b": 3, "c": 1e-3}, "d": [1, 2], "e": "tiny"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["novalue"])


def test_precedence_defaults_params_profile_overrides(tmp_path):
    params = write_params(
        tmp_path,
        "profile: small\ndata_root: /data\npaths: {docs: out/docs}\npretrain: {steps: 10, lr: 0.5}\n",
        {"small": "pretrain: {steps: 2}\n"},
    )
    merged = load_params(params, parse_overrides(["pretrain.lr=0.25"]))
    cfg = stage_config("pretrain", Cfg, merged)
    assert (cfg.steps, cfg.lr, cfg.mode, cfg.docs) == (2, 0.25, "mlm", "out/docs")


def test_unknown_profile_lists_known(tmp_path):
    params = write_params(tmp_path, "profile: default\n", {"tiny": "{}\n"})
    with pytest.raises(ConfigError, match=r"unknown profile 'huge' \(known: default, tiny\)"):
        load_params(params, {"profile": "huge"})


def test_path_keys_are_written_once(tmp_path):
    params = write_params(tmp_path, "paths: {docs: out/docs}\npretrain: {docs: elsewhere}\n")
    with pytest.raises(ConfigError, match="pretrain.docs: set it once"):
        stage_config("pretrain", Cfg, load_params(params))


def test_lmpipe_data_env_overrides_data_root(tmp_path, monkeypatch):
    params = write_params(tmp_path, "data_root: ../shared/data\n")
    monkeypatch.setenv("LMPIPE_DATA", "/elsewhere")
    assert load_params(params)["data_root"] == "/elsewhere"


def test_repo_params_resolve_for_every_stage():
    """The shipped params.yaml and each shipped profile build every stage's Config."""
    from pipeline.env import PACKAGE_DIR

    params = PACKAGE_DIR.parent / "params.yaml"
    profiles = sorted(p.stem for p in (PACKAGE_DIR.parent / "profiles").glob("*.yaml"))
    assert "default" in profiles and "cpu-1h" in profiles
    for profile in profiles:
        for stage in STAGES:
            resolve_config(stage, {"profile": profile}, params)


def test_cli_reports_bad_param_in_one_line(tmp_path):
    from pipeline.env import PACKAGE_DIR

    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "report", "--set", "report.nonsense=1",
         "--params", str(PACKAGE_DIR.parent / "params.yaml")],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lmpipe report: error: report.nonsense: unknown key (known: bias, crows_pairs, "), last


def test_cli_help_lists_stages():
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for stage in STAGES:
        assert stage in proc.stdout


def test_yaml11_exponent_strings_are_floats():
    assert build(Cfg, {"lr": "1e-3"}).lr == pytest.approx(1e-3)
