"""The Celery app for scale-out workers (seed "IndexTTS Service 开发指南").

    celery -A serving.celery_app worker -Q indextts_queue --pool solo -n indextts@%h

One worker process per GPU, one task at a time (`--pool solo`: the engine lives in the worker
process itself), late acknowledgement so a task whose worker dies is delivered again. Clients need
none of this code: `Celery(broker=...).send_task("indextts.generate_speech", kwargs={...},
queue="indextts_queue")`.
"""

from __future__ import annotations

from celery import Celery

from serving.worker_settings import WorkerSettings

QUEUE = "indextts_queue"
settings = WorkerSettings.from_env()

app = Celery("indextts", broker=settings.broker_url, backend=settings.result_backend, include=["serving.celery_tasks"])
app.conf.update(
    task_default_queue=QUEUE,
    task_routes={"indextts.*": {"queue": QUEUE}},
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    timezone="UTC",
    enable_utc=True,
    worker_prefetch_multiplier=1,
    worker_concurrency=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_track_started=True,
    task_soft_time_limit=settings.soft_time_limit,
    task_time_limit=settings.time_limit,
    result_expires=settings.result_expires,
    broker_transport_options={"visibility_timeout": settings.visibility_timeout},
    result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
