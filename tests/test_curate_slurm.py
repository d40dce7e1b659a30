"""curate's wait for its Slurm jobs (pipeline/curate/executors.py), against scripted sbatch,
squeue, sacct, srun, scontrol and scancel on PATH.

Why not a real Slurm: slurmctld and slurmd do start here in seconds (apt's slurm-wlm, as root,
on localhost), but `make test` does not install them, sacct needs slurmdbd and a MySQL server
besides, and the daemons take fixed ports and /run/munge, which parallel runs would share. The
scripts are real commands the stage calls in subprocesses; datatrove's own SlurmPipelineExecutor
writes the sbatch script, and in the success case the scripted sbatch runs it, so the task runs
datatrove's launch_pickled_pipeline and writes a real completion marker.
"""
from __future__ import annotations

import os
import sys
import time

import pytest

from pipeline.curate.config import ExecutorConfig
from pipeline.curate.executors import run_jobs
from pipeline.curate.recipe import Job
from pipeline.errors import PipelineError

# The wait used to have no end: a regression must fail here, not hang the suite.
pytestmark = pytest.mark.timeout(60)

# $FAKE_SLURM: the state directory; $FAKE_SLURM_SCENARIO: success | failed | vanished | timeout
COMMANDS = {
    # ids from 101; success runs the job's script (array task 0) in the background, like a node
    "sbatch": r"""
id=$(( $(cat "$FAKE_SLURM/next" 2>/dev/null || echo 100) + 1 )); echo $id > "$FAKE_SLURM/next"
script="${@: -1}"; cp "$script" "$FAKE_SLURM/job_$id.sh"; echo "$@" > "$FAKE_SLURM/args_$id"
if [ "$FAKE_SLURM_SCENARIO" = success ] && ! grep -q merge_stats "$script"; then
  SLURM_ARRAY_TASK_ID=0 SLURM_JOB_ID=$id SLURM_NODELIST=localhost bash "$FAKE_SLURM/job_$id.sh" </dev/null >"$FAKE_SLURM/job_$id.out" 2>&1 &
  echo $! > "$FAKE_SLURM/pid_$id"
fi
echo "Submitted batch job $id"
""",
    "srun": r"""
while [ "${1#-}" != "$1" ]; do [ "$1" = -n ] && shift; shift; done  # srun -l -n 1 <command>
exec "$@"
""",
    "scontrol": r"""echo "${@: -1}" """,  # scontrol show hostnames <nodelist>: one node
    # success: a job is queued while its script runs; vanished: no job is known any more
    "squeue": r"""
ids=$(printf '%s\n' "$@" | sed -n 's/^--jobs=//p' | tr , ' ')
case "$FAKE_SLURM_SCENARIO" in
  success) for id in $ids; do kill -0 "$(cat "$FAKE_SLURM/pid_$id")" 2>/dev/null && echo $id; done; true ;;
  vanished) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;;
  *) printf '%s\n' $ids ;;
esac
""",
    # failed: the first job's task 0 failed, the others wait on it; timeout: all pending
    "sacct": r"""
ids=$(printf '%s\n' "$@" | sed -n 's/^--jobs=//p' | tr , ' ')
case "$FAKE_SLURM_SCENARIO" in
  failed) set -- $ids; echo "$1_0|FAILED"; shift; for id in "$@"; do echo "$id""_[0]|PENDING"; done ;;
  timeout) for id in $ids; do echo "$id""_[0]|PENDING"; done ;;
  *) echo "Slurm accounting storage is disabled" >&2; exit 1 ;;
esac
""",
    "scancel": r"""echo "$@" >> "$FAKE_SLURM/scancel" """,
}


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """Put the scripted commands first on PATH, the venv's next (the job runs
    launch_pickled_pipeline); return a function that sets the scenario and runs curate's jobs."""
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in COMMANDS.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.path.dirname(sys.executable), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_SLURM", str(state))
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)  # datatrove would take us for a task

    def run(scenario: str, names: tuple[str, ...] = ("filter",), **executor) -> None:
        monkeypatch.setenv("FAKE_SLURM_SCENARIO", scenario)
        cfg = ExecutorConfig(**{"kind": "slurm", "partition": "cpu", "tasks": 1, "workers": 1, "poll_s": 0.05,
                                "timeout_s": 20.0, **executor})
        run_jobs(cfg, [Job(name, [], tasks=1) for name in names], tmp_path / "logs")

    run.state, run.logs = state, tmp_path / "logs"
    return run


def test_success_waits_for_the_completion_marker(slurm):
    slurm("success", mem_per_cpu_gb=1.5)
    assert (slurm.logs / "filter" / "completions" / "00000").exists()
    script = (slurm.state / "job_101.sh").read_text()
    assert "#SBATCH --mem-per-cpu=1536M" in script  # 1.5 GB, not int()'s 1
    assert "#SBATCH --kill-on-invalid-dep=yes" in script  # Slurm ends what waits on a failed job
    assert not (slurm.state / "scancel").exists()


def test_a_failed_task_in_sacct_stops_the_chain(slurm):
    # two jobs: the second waits on the first (afterok), which would keep it pending for ever;
    # 102 is the first job's merge_stats, which datatrove submits after it
    with pytest.raises(PipelineError, match=r"^curate job filter: slurm job 101_0 FAILED; see .*filter/slurm$"):
        slurm("failed", names=("filter", "dedup"))
    assert "--dependency=afterok:101" in (slurm.state / "args_103").read_text()
    assert (slurm.state / "scancel").read_text().split() == ["101", "103"]


def test_a_job_gone_from_the_queue_without_its_marker_is_an_error(slurm):
    with pytest.raises(PipelineError, match=r"curate job filter: slurm job 101 left the queue without the "
                                            r"completion markers of tasks \[0\]"):
        slurm("vanished")


def test_waiting_past_the_timeout_cancels_and_fails(slurm):
    start = time.monotonic()
    with pytest.raises(PipelineError, match=r"slurm job 101 not done after executor.timeout_s=0.3 .*cancelled jobs 101$"):
        slurm("timeout", timeout_s=0.3)
    assert time.monotonic() - start < 5
    assert (slurm.state / "scancel").read_text().split() == ["101"]


def test_slurm_memory_is_whole_megabytes():
    assert ExecutorConfig(mem_per_cpu_gb=1.5).mem_per_cpu_mb == 1536
    with pytest.raises(ValueError, match="mem_per_cpu_gb"):
        ExecutorConfig(mem_per_cpu_gb=0.0001)
