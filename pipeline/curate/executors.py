"""Run the recipe's jobs on datatrove's Local, Slurm or Ray executor.

Every job logs to logs/<job>/ inside the stage's `.partial` work directory; datatrove writes a
completion marker per finished task there, so a re-run after a crash skips finished tasks.

- local: jobs run one after the other in this process (workers=1) or a forkserver pool.
- ray:   the same on the Ray cluster at RAY_ADDRESS, or on a local Ray instance the stage starts
  (workers x cpus_per_task CPUs) and stops when it is done.
- slurm: the jobs are submitted as dependent sbatch arrays; the stage then waits for every job's
  completion markers, fails on a task that failed (sacct) or a job that left the queue with tasks
  unmarked (squeue), and gives up after executor.timeout_s. The work directory must be on a
  filesystem the nodes share.
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from datatrove.executor.base import PipelineExecutor

from pipeline.curate.config import ExecutorConfig
from pipeline.curate.recipe import Job
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)


def make_executor(cfg: ExecutorConfig, job: Job, logs: Path, depends: PipelineExecutor | None) -> PipelineExecutor:
    workers = min(job.workers or cfg.workers, job.tasks)
    common = dict(pipeline=job.pipeline, tasks=job.tasks, logging_dir=str(logs / job.name), skip_completed=True)
    if cfg.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(workers=workers, **common)
    if cfg.kind == "ray":
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor(workers=workers, cpus_per_task=cfg.cpus_per_task,
                                   mem_per_cpu_gb=cfg.mem_per_cpu_gb, depends=depends, **common)
    from datatrove.executor import SlurmPipelineExecutor

    # sbatch_args override datatrove's directives: it writes --mem-per-cpu={mem_per_cpu_gb}G, which
    # sbatch refuses unless whole, so megabytes; and the jobs after a failed one (the next job, each
    # job's merge_stats: afterok) would otherwise stay pending for ever, so Slurm ends them.
    return SlurmPipelineExecutor(workers=workers, time=cfg.time, partition=cfg.partition,
                                 cpus_per_task=cfg.cpus_per_task, mem_per_cpu_gb=cfg.mem_per_cpu_gb,
                                 sbatch_args={"mem-per-cpu": f"{cfg.mem_per_cpu_mb}M", "kill-on-invalid-dep": "yes"},
                                 job_name=f"lmpipe_curate_{job.name}", depends=depends,
                                 slurm_logs_folder=str(logs / job.name / "slurm"), **common)


@contextlib.contextmanager
def ray_session(cfg: ExecutorConfig) -> Iterator[None]:
    """Connect to RAY_ADDRESS, or start a local Ray instance and stop it afterwards; an instance
    the caller already initialised is used as it is."""
    import ray

    if ray.is_initialized():
        yield
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        # Sized to the tasks we run at once; no dashboard: it is a web server nobody reads here.
        ray.init(num_cpus=cfg.workers * cfg.cpus_per_task, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def run_jobs(cfg: ExecutorConfig, jobs: list[Job], logs: Path) -> dict[str, float]:
    """Run the jobs in order; return each job's wall time in seconds (local and ray)."""
    if cfg.kind == "slurm":
        run_slurm(cfg, jobs, logs)
        return {}
    if cfg.kind == "ray":
        with ray_session(cfg):
            return _run_jobs(cfg, jobs, logs)
    return _run_jobs(cfg, jobs, logs)


def _run_jobs(cfg: ExecutorConfig, jobs: list[Job], logs: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    for job in jobs:
        executor = make_executor(cfg, job, logs, depends=None)
        start = time.perf_counter()
        done = job.tasks - len(executor.get_incomplete_ranks())  # by a killed run: they are skipped
        log.info("curate: job %s (%d tasks%s)", job.name, job.tasks, f", {done} already complete" if done else "")
        executor.run()
        incomplete = executor.get_incomplete_ranks()
        if incomplete:
            raise RuntimeError(f"curate job {job.name}: tasks {incomplete} did not complete; see {logs / job.name}")
        times[job.name] = round(time.perf_counter() - start, 2)
    return times


# Slurm's end states other than COMPLETED: the task wrote no completion marker and will not (a
# preempted task is requeued: datatrove submits with --requeue).
SLURM_FAILED = frozenset({"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT"})


def run_slurm(cfg: ExecutorConfig, jobs: list[Job], logs: Path) -> None:
    """Submit the jobs as a chain of dependent sbatch arrays and wait until every task has left
    its completion marker. A failed task, a job that left the queue with tasks unmarked, or
    waiting past executor.timeout_s is an error, and the chain's jobs are cancelled first: the
    ones after a failure would wait on it for ever, and a rerun resubmits the unfinished tasks."""
    chain: list[PipelineExecutor] = []
    for job in jobs:
        chain.append(make_executor(cfg, job, logs, depends=chain[-1] if chain else None))
    chain[-1].run()  # submits the whole chain, each job after the one it depends on
    # job_id -1: every task already done, nothing submitted
    submitted = [(job, ex, str(ex.job_id)) for job, ex in zip(jobs, chain) if ex.job_id not in (None, -1)]
    ids = [job_id for _, _, job_id in submitted]
    deadline = time.monotonic() + cfg.timeout_s
    while True:
        # the queue first, the markers second: a task writes its marker before it leaves the queue
        queued, failed = _squeue(ids), _sacct_failed(ids)
        waiting = [(job, job_id, incomplete) for job, ex, job_id in submitted
                   if (incomplete := ex.get_incomplete_ranks())]
        if not waiting:
            return
        for job, job_id, incomplete in waiting:
            if job_id in failed:
                problem = "slurm job {} {}".format(*failed[job_id])
            elif queued is not None and job_id not in queued:
                problem = f"slurm job {job_id} left the queue without the completion markers of tasks {incomplete}"
            else:
                continue
            _scancel(ids)
            raise PipelineError(f"curate job {job.name}: {problem}; see {logs / job.name / 'slurm'}")
        job, job_id, incomplete = waiting[0]
        if time.monotonic() > deadline:
            _scancel(ids)
            raise PipelineError(f"curate job {job.name}: slurm job {job_id} not done after executor.timeout_s="
                                f"{cfg.timeout_s:g} (tasks {incomplete} left); cancelled jobs {','.join(ids)}")
        log.info("curate: waiting for %d slurm tasks of %s (job %s)", len(incomplete), job.name, job_id)
        time.sleep(cfg.poll_s)


def _slurm(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


def _squeue(ids: list[str]) -> set[str] | None:
    """The jobs among `ids` still in the queue (pending, running, completing); None when squeue
    failed, e.g. the controller busy: the next poll asks again."""
    out = _slurm("squeue", "--noheader", "--format=%F", f"--jobs={','.join(ids)}")
    if out.returncode == 0:
        return set(out.stdout.split())
    if "Invalid job id" in out.stderr:  # none of them is known to the controller any more
        return set()
    log.warning("curate: squeue failed: %s", out.stderr.strip())
    return None


def _sacct_failed(ids: list[str]) -> dict[str, tuple[str, str]]:
    """Job id -> (array task, state) of one failed task per job. Empty when sacct fails: a
    cluster without accounting storage answers "Slurm accounting storage is disabled", and
    squeue alone then tells a failed job, once it has left the queue."""
    out = _slurm("sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State",
                 f"--jobs={','.join(ids)}")
    failed: dict[str, tuple[str, str]] = {}
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        task, _, state = line.partition("|")
        state = state.split(" ")[0]  # "CANCELLED by 1000"
        if state in SLURM_FAILED:
            failed.setdefault(task.split("_")[0], (task, state))  # array task 123_4 of job 123
    return failed


def _scancel(ids: list[str]) -> None:
    out = _slurm("scancel", *ids)
    if out.returncode:
        log.warning("curate: scancel %s failed: %s", " ".join(ids), out.stderr.strip())
