"""Scheduled jobs. One Lambda, `jobs`, takes `{"job": "<name>"}`; infra/ schedules it
(EventBridge Scheduler, Asia/Shanghai) and `POST /admin/jobs/{name}/run` calls the same
dispatcher. Every job is safe to run twice, late, or after dying halfway; which jobs
exist is declared in `functions/wiring.py`."""

from __future__ import annotations

from chalice import Blueprint

from functions import wiring
from layers.domain import errors
from layers.observability import logger

bp = Blueprint(__name__)


def run_job(name: str) -> dict:
    steps = wiring.jobs().get(name)
    if steps is None:
        raise errors.NotFound(f"no job named {name!r}; jobs: {', '.join(sorted(wiring.jobs()))}")
    logger.info("job start", extra={"job": name})
    result: dict = {}
    for build, method, key in steps:
        answer = getattr(build(), method)()
        if key is None:
            result.update(answer)
        else:
            result[key] = answer
    # infra/'s JobRuns metric filter counts this line (message and `job`) and alarms on a job
    # with no run: keep both, and keep it at INFO or above the log level.
    logger.info("job done", extra={"job": name, "result": result})
    return result


@bp.lambda_function(name="jobs")
def jobs_handler(event, context):
    return run_job(event["job"])
