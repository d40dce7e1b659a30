"""Run the recipe's jobs on datatrove's Local, Slurm or Ray executor.

Every job logs to logs/<job>/ inside the stage's `.partial` work directory; datatrove writes a
completion marker per finished task there, so a re-run after a crash skips finished tasks.

- local: jobs run one after the other in this process (workers=1) or a forkserver pool.
- ray:   the same on the Ray cluster at RAY_ADDRESS, or on a local Ray instance the stage starts
  (workers x cpus_per_task CPUs) and stops when it is done.
- slurm: the jobs are submitted as dependent sbatch arrays; the stage then waits for the last
  job's completion markers. The work directory must be on a filesystem the nodes share.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from datatrove.executor.base import PipelineExecutor

from pipeline.curate.config import ExecutorConfig
from pipeline.curate.recipe import Job

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

    return SlurmPipelineExecutor(workers=workers, time=cfg.time, partition=cfg.partition,
                                 cpus_per_task=cfg.cpus_per_task, mem_per_cpu_gb=int(cfg.mem_per_cpu_gb),
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
    if cfg.kind == "ray":
        with ray_session(cfg):
            return _run_jobs(cfg, jobs, logs)
    return _run_jobs(cfg, jobs, logs)


def _run_jobs(cfg: ExecutorConfig, jobs: list[Job], logs: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    last = None
    for job in jobs:
        executor = make_executor(cfg, job, logs, depends=last)
        if cfg.kind == "slurm":
            last = executor  # launched below, with its whole dependency chain
            continue
        start = time.perf_counter()
        log.info("curate: job %s (%d tasks)", job.name, job.tasks)
        executor.run()
        incomplete = executor.get_incomplete_ranks()
        if incomplete:
            raise RuntimeError(f"curate job {job.name}: tasks {incomplete} did not complete; see {logs / job.name}")
        times[job.name] = round(time.perf_counter() - start, 2)
    if last is not None:
        last.run()
        while incomplete := last.get_incomplete_ranks():
            log.info("curate: waiting for %d slurm tasks of %s", len(incomplete), jobs[-1].name)
            time.sleep(cfg.poll_s)
    return times
