"""Scheduled jobs. One Lambda, `jobs`, takes `{"job": "<name>"}`; infra/ schedules it
(EventBridge Scheduler, Asia/Shanghai) and `POST /admin/jobs/{name}/run` calls the same
dispatcher. Every job is safe to run twice, late, or after dying halfway."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)


@bp.lambda_function(name="jobs")
def jobs_handler(event, context):
    from layers.jobs import run_job

    return run_job(event["job"])
