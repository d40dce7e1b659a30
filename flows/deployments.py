"""lmpipe's deployments: the whole pipeline nightly, and each stage group on demand.

`prefect deployment run 'lmpipe/nightly' --param profile=tiny` triggers one by hand.
"""
from __future__ import annotations

from prefect import serve

from flows.lmpipe_flow import lmpipe, lmpipe_data, lmpipe_eval, lmpipe_model
from pipeline.config import load_params

NIGHTLY_CRON = "0 2 * * *"  # 02:00 every day, server time zone


def deployments(profile: str | None = None) -> list:
    if profile:
        load_params(overrides={"profile": profile})  # fail now, in one line, on an unknown profile
    params = {"profile": profile} if profile else {}
    return [
        lmpipe.to_deployment(name="nightly", cron=NIGHTLY_CRON, parameters=params,
                             description="The whole pipeline, every night; skips what DVC says is up to date."),
        lmpipe_data.to_deployment(name="data", parameters=params),
        lmpipe_model.to_deployment(name="model", parameters=params),
        lmpipe_eval.to_deployment(name="eval", parameters=params),
    ]


def serve_all(profile: str | None = None) -> None:
    serve(*deployments(profile))
