"""The Celery recipe of README.rst ("Scaling out on Redis", "Handing transfers to Celery"):
a Flask view hands a copy to a Celery task, the task runs it on a Redis-backed queue in
the Celery worker, and the browser follows it (and may cancel it) through the transfer
routes of any gunicorn worker. tests/integration/test_celery_recipe.py runs it with real processes.

One module for both sides, as an application usually has::

    gunicorn -k gthread --threads 32 -w 4 tests.helpers.celery_recipe:app
    celery -A tests.helpers.celery_recipe:celery_app worker --pool threads --concurrency 8

Settings (environment): ``TRANSFERS_REDIS_URL`` (the queue's cluster, Celery's broker
and its result backend), ``TRANSFERS_SOURCE_DIR`` (the folder whose files may be
published) and ``TRANSFERS_DEST_DIR`` (where they go).

Routes: ``POST /copies`` with ``{"name": "<file in TRANSFERS_SOURCE_DIR>"}`` answers 202
``{"task": "<celery task id>"}``; ``GET /copies/<task>`` answers ``{"state": ..., "job":
"<transfer job id>" or null, "status": "<the job's status when the task ended>" or null}``:
the job id is there once a Celery worker has queued the copy. Then, on any worker,
``/transfers/<job>/events`` streams the job, ``DELETE /transfers/<job>`` cancels it.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, TypeGuard

import celery
import flask

import transferqueue as tq
from transferqueue.executors import Transfer
from transferqueue.redis import RedisBackend
from transferqueue.web import transfer_blueprint

REDIS_URL = os.environ.get("TRANSFERS_REDIS_URL", "redis://localhost:6379/0")
SOURCE_DIR = os.environ.get("TRANSFERS_SOURCE_DIR", "/srv/exports")
DEST_DIR = os.environ.get("TRANSFERS_DEST_DIR", "/srv/published")

# One queue per process, each a member of the cluster: in the Celery worker it runs the
# copies (at most 8 at once across every worker), in each gunicorn worker it only reads
# the jobs and passes cancels on to the Celery worker that runs them.
queue = tq.TransferQueue(8, backend=RedisBackend(REDIS_URL, namespace="transfers"))

# What runs a file; any executor (tests put one there that waits for them).
executor: tq.Executor = Transfer(overwrite=False)

celery_app = celery.Celery("transfers", broker=REDIS_URL, backend=REDIS_URL)
celery_app.conf.broker_connection_retry_on_startup = True


def publish_file(task: Any, name: str) -> dict[str, str]:
    """Copy the file ``name`` of SOURCE_DIR into DEST_DIR; return its job's id and final
    status. The task lasts as long as the copy, so that Celery's concurrency, and its
    warm shutdown, cover the transfer."""
    source = os.path.join(SOURCE_DIR, name)
    files = [
        {
            "source_path": source,
            "destination_path": os.path.join(DEST_DIR, name),
            "size": os.stat(source).st_size,
        }
    ]
    job_id = queue.queue_job("local-upload", files, executor)
    # Tells the web side which job to follow: GET /copies/<task> reads it.
    task.update_state(state="RUNNING", meta={"job": job_id})
    job = queue.wait(job_id)
    return {"job": job_id, "status": job.status.value}


# The Celery task (registered without decorator syntax: celery has no type hints).
publish = celery_app.task(publish_file, bind=True, name="transfers.publish")


app = flask.Flask(__name__)
# public=True: an intranet tool whose every visitor may see and cancel every copy. Pass
# can_access=... instead where that is not so (README.rst, "Who may see what").
app.register_blueprint(transfer_blueprint(queue, public=True), url_prefix="/transfers")


@app.post("/copies")
def start_copy() -> tuple[dict[str, str], int]:
    """Hand the copy of one file to a Celery worker."""
    body = flask.request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    if not _is_plain_name(name):
        return {"error": 'give the name of a file, as {"name": ...}'}, 400
    if not os.path.isfile(os.path.join(SOURCE_DIR, name)):
        return {"error": f"no file {name!r} to publish"}, 404
    result = publish.delay(name)
    return {"task": result.id}, 202


@app.get("/copies/<uuid:task_id>")  # Celery's task ids are UUIDs: nothing else gets in
def copy_state(task_id: uuid.UUID) -> dict[str, str | None]:
    """Where a copy stands: its task's state, and its job once a worker queued it."""
    result = celery_app.AsyncResult(str(task_id))
    info = result.info if isinstance(result.info, dict) else {}
    return {"state": result.state, "job": info.get("job"), "status": info.get("status")}


def _is_plain_name(name: object) -> TypeGuard[str]:
    """A file name of SOURCE_DIR as a browser may send it: no folder, nothing hidden."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and name.isprintable()
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
    )
