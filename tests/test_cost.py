"""Compute and energy accounting (pipeline/cost.py): the tracker, its config, run_stage's metrics."""
import dataclasses
import json
import multiprocessing
import re
import socket
import subprocess
import sys
import time
import types

import pytest

from pipeline import cost, stages
from pipeline.config import cost_config, load_params
from pipeline.env import PACKAGE_DIR
from pipeline.errors import ConfigError
from pipeline.runner import run_stage


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.fixture
def no_network(monkeypatch):
    """Records every connection attempt (codecarbon's offline tracker must make none)."""
    calls = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: calls.append(addr))
    return calls


def test_a_busy_loop_costs_cpu_time_energy_and_co2e(tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)  # codecarbon would write emissions.csv, .codecarbon.lock here
    with cost.track(cost.Config()) as usage:
        busy(0.3)
    figures = usage.figures(flops=None)
    assert figures["wall_time_s"] >= 0.3 and figures["cpu_time_s"] >= 0.3
    assert figures["energy_kwh"] > 0 and figures["co2e_kg"] > 0
    assert figures["gpu_time_s"] == (figures["wall_time_s"] if cost._cuda_in_use() else 0.0)
    assert figures["energy_method"].startswith("codecarbon 3.") and figures["country_iso_code"] == "USA"
    assert not list(tmp_path.iterdir()) and not no_network


def test_cpu_time_counts_child_processes():
    with cost.track(cost.Config()) as usage:
        subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                        "while time.process_time() < end: pass"], check=True)
    assert usage.cpu_time_s >= 0.5  # the child's, which this process only waited for


def test_peak_rss_counts_a_child_that_held_more_than_this_process():
    # In a fresh process, since pytest's own children would hide the figure being tested. Linux
    # carries ru_maxrss across fork + exec, so that process starts at pytest's peak (~800 MB
    # after the tests before it in a full run, measured in CI): the child touches 1,500 MB.
    child = "b = bytearray(1500 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1"
    script = ("import subprocess, sys\nfrom pipeline import cost\n"
              "with cost.track(cost.Config()) as usage:\n"
              f"    subprocess.run([sys.executable, '-c', {child!r}], check=True)\n"
              "import resource\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, usage.figures(flops=None)['peak_rss_mb'])")
    own, peak = map(float, subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                                          cwd=PACKAGE_DIR.parent).stdout.split()[-2:])
    assert own < 1500 <= peak  # the child's, above anything this process held itself


def test_cpu_time_counts_forkserver_pool_workers():
    """datatrove's pools: the workers' parent is a forkserver that outlives the stage."""
    with cost.track(cost.Config()) as usage:
        with multiprocessing.get_context("forkserver").Pool(1) as pool:
            pool.map(busy, [0.5])
    assert usage.cpu_time_s >= 0.5


def test_the_grid_sets_co2e_per_kwh():
    """Same work, two grids: France's nuclear-heavy grid emits less per kWh than the US's."""
    rates = {}
    for country in ("USA", "FRA"):
        with cost.track(cost.Config(country_iso_code=country)) as usage:
            busy(0.1)
        rates[country] = usage.co2e_kg / usage.energy_kwh
    assert rates["FRA"] < rates["USA"]


def test_bad_country_code_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as exc:
        cost_config({"cost": {"country_iso_code": "XYZ"}})
    message = str(exc.value)
    assert message.startswith("cost: country_iso_code: 'XYZ' is not a country") and "\n" not in message


@pytest.mark.parametrize("section, message", [
    ({"country": "FRA"}, "cost.country: unknown key (known: country_iso_code, cpu_power_w, tracking_mode)"),
    ({"cpu_power_w": "lots"}, "cost.cpu_power_w: expected"),
    ({"cpu_power_w": -5}, "cost: cpu_power_w: -5.0 <= 0"),
    ({"tracking_mode": "cluster"}, "cost.tracking_mode: expected one of ['process', 'machine']"),
])
def test_unknown_or_ill_typed_cost_keys_are_errors(section, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        cost_config({"cost": section})


def test_cost_must_be_a_mapping():
    with pytest.raises(ConfigError, match="^cost: expected a mapping"):
        cost_config({"cost": "USA"})


def test_the_shipped_params_have_a_cost_section():

    assert cost_config(load_params(PACKAGE_DIR.parent / "params.yaml")).country_iso_code == "USA"


def test_a_forced_cpu_power_is_the_method():
    with cost.track(cost.Config(cpu_power_w=100.0)) as usage:
        busy(0.1)
    assert "100 W at full load" in usage.energy_method and "cost.cpu_power_w" in usage.energy_method


def test_transformer_flops_is_the_6n_rule():
    assert cost.transformer_flops(10, 12, train_tokens=100, forward_tokens=50) == 6 * 10 * 100 + 2 * 12 * 50


def test_run_stage_writes_cost_and_moves_the_stages_flops(project, monkeypatch):
    @dataclasses.dataclass
    class Config:
        steps: int = 1

    def run(cfg):
        busy(0.1)
        return {"steps": cfg.steps, "flops": 1.5e9}

    monkeypatch.setitem(stages.STAGES, "toy", ("toy", "a test stage"))
    real_load = stages.load
    monkeypatch.setattr(stages, "load", lambda name: types.SimpleNamespace(Config=Config, run=run)
                        if name == "toy" else real_load(name))
    params = project / "params.yaml"
    params.write_text("cost: {country_iso_code: FRA}\ntoy: {steps: 2}\n")
    metrics = run_stage("toy", None, params)
    written = json.loads((project / "metrics" / "toy.json").read_text())
    assert written == metrics and "flops" not in written and written["steps"] == 2
    figures = written["cost"]
    assert figures["flops"] == 1.5e9 and figures["country_iso_code"] == "FRA"
    assert figures["cpu_time_s"] > 0 and figures["energy_kwh"] > 0 and figures["co2e_kg"] > 0
    # One clock reading, rounded to 2 places at the top level and 3 in "cost": comparing the
    # roundings exactly fails on ties (0.1054 -> 0.11 vs round(0.105, 2) = 0.1).
    assert abs(written["wall_time_s"] - figures["wall_time_s"]) <= 0.005
