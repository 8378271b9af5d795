"""Celery tasks: the seed's task contract translated to `SynthesisRequest`, run on this worker's
one `Node` (loaded when the worker process starts) while holding the GPU lock.

Bad input never raises out of a task: it returns `{"status": "error", "error": "<field: problem>"}`
so a workflow can branch on it, and the worker keeps serving. A task revoked while it runs
(`revoke(task_id)`, no `terminate` needed) cancels its synthesis and ends in state REVOKED.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import redis
import soundfile as sf
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init

from indextts.errors import CheckpointError
from serving.celery_app import app, settings
from serving.celery_revoke import revocations
from serving.engine import EngineOptions, load_engine
from serving.gpu_lock import GpuLock, GpuLockTimeout
from serving.jobs import JobState, QueueFullError
from serving.node import Node, NodeSettings
from serving.request import RequestError, SynthesisRequest, parse_request
from serving.sources import AudioSourceError

log = logging.getLogger("indextts.worker")
EMOTION_NAMES = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")
# SynthesisRequest's names → the seed's, for the `parameters` a result reports.
SEED_PARAMETERS = {
    "spk_audio": "reference_audio",
    "emo_audio": "emotion_reference",
    "emo_alpha": "emotion_alpha",
    "emo_vector": "emotion_vector",
    "emo_text": "emotion_text",
    "emo_mode": "emotion_mode",
}


class WorkerState:
    """This process's engine, node and GPU lock (one per worker process)."""

    node: Node | None = None
    lock: GpuLock | None = None
    load_error: str | None = None


def load_worker() -> None:
    if WorkerState.node is not None or WorkerState.load_error is not None:
        return
    if settings.deepspeed_requested or settings.cuda_kernel_requested:
        log.warning("INDEX_TTS_USE_DEEPSPEED / _CUDA_KERNEL: not needed by this engine; ignored")
    started = time.perf_counter()
    try:
        loaded = load_engine(
            EngineOptions(
                settings.model_dir,
                settings.cache_dir,
                settings.device,
                settings.fp16,
                demo=bool(settings.demo),
                demo_generation=settings.demo_generation,
            )
        )
    except CheckpointError as exc:
        WorkerState.load_error = f"the model could not be loaded: {exc}"
        log.error("%s", WorkerState.load_error)
        return
    node_settings = NodeSettings(
        outputs_dir=settings.output_dirs[0] / "celery",
        allowed_dirs=settings.allowed_dirs + settings.output_dirs,
    )
    WorkerState.node = Node(loaded, node_settings)
    WorkerState.lock = GpuLock(redis.Redis.from_url(settings.broker_url), loaded.device, settings.gpu_lock_ttl)
    log.info(
        "worker ready in %.1f s: %s on %s%s",
        time.perf_counter() - started,
        loaded.model_dir,
        loaded.device,
        " (DEMO checkpoint)" if loaded.demo else "",
    )


@worker_process_init.connect
def _load_in_child(**_: Any) -> None:
    load_worker()


@worker_init.connect
def _load_in_solo_worker(sender: Any = None, **_: Any) -> None:
    if "solo" in str(getattr(sender, "pool_cls", "")).lower():
        load_worker()


class TaskInputError(ValueError):
    """Bad task arguments; the message names the argument."""


def _output_path(output_path: str | None, task_id: str) -> Path:
    root = settings.output_dirs[0]
    path = Path(output_path) if output_path else root / "celery" / f"{task_id}.wav"
    path = (path if path.is_absolute() else root / path).resolve()
    if not any(path.is_relative_to(folder) for folder in settings.output_dirs):
        allowed = ", ".join(str(folder) for folder in settings.output_dirs)
        raise TaskInputError(f"output_path: {output_path} is outside the allowed output folders ({allowed})")
    return path


def _request(kwargs: dict[str, Any]) -> SynthesisRequest:
    speaker, seed_alias = kwargs.pop("reference_audio", None), kwargs.pop("spk_audio_prompt", None)
    fields: dict[str, Any] = {
        "text": kwargs.pop("text", None),
        "spk_audio": speaker or seed_alias,
        "emo_alpha": kwargs.pop("emotion_alpha", 0.65),
        "use_random": kwargs.pop("use_random", False),
        "max_text_tokens_per_segment": kwargs.pop("max_text_tokens_per_segment", 120),
    }
    emotion_reference, vector, emotion_text = (
        kwargs.pop(name, None) for name in ("emotion_reference", "emotion_vector", "emotion_text")
    )
    if emotion_reference:
        fields |= {"emo_mode": "audio", "emo_audio": emotion_reference}
    elif vector is not None:
        if isinstance(vector, dict):  # {"happy": 0.6, …} as well as the list of eight
            vector = [vector.get(name, 0.0) for name in EMOTION_NAMES]  # checked as numbers by the request
        fields |= {"emo_mode": "vector", "emo_vector": vector}
    elif emotion_text:
        fields |= {"emo_mode": "text", "emo_text": emotion_text}
    fields |= kwargs  # the remaining SynthesisRequest fields (sampling, seed…); unknown names are refused
    if fields["spk_audio"] is None:
        raise TaskInputError("reference_audio: a speaker prompt (path inside the allowed folders or URL) is required")
    try:
        return parse_request({key: value for key, value in fields.items() if value is not None})
    except RequestError as exc:
        names = {"spk_audio": "reference_audio", "emo_audio": "emotion_reference", "emo_vector": "emotion_vector"}
        names |= {"emo_text": "emotion_text", "emo_alpha": "emotion_alpha"}
        raise TaskInputError("; ".join(f"{names.get(f, f)}: {m}" for f, m in exc.problems)) from None


def _error(message: str, workflow_id: str | None, stage_name: str | None) -> dict[str, Any]:
    log.warning("task refused: %s", message)
    return {"status": "error", "error": message, "workflow_id": workflow_id, "stage_name": stage_name}


@app.task(name="indextts.generate_speech", bind=True)
def generate_speech(
    self, text: str | None = None, output_path: str | None = None, workflow_id: str | None = None,
    stage_name: str | None = None, **kwargs: Any,
) -> dict[str, Any]:  # fmt: skip
    """Synthesize `text` in the voice of `reference_audio` and write a WAV at `output_path`."""
    started = time.perf_counter()
    if WorkerState.node is None:
        return _error(WorkerState.load_error or "the worker has no model loaded", workflow_id, stage_name)
    node, lock = WorkerState.node, WorkerState.lock
    try:
        request = _request({"text": text, **kwargs})
        target = _output_path(output_path, self.request.id or "task")
        listener = revocations(app, self.request.hostname or "worker")
        listener.wait_listening(5.0)
        with lock.held(wait=settings.soft_time_limit):
            job = node.submit(request, origin="celery")
            with listener.watch(self.request.id, lambda: node.queue.cancel(job.id, "the Celery task was revoked")):
                node.queue.wait_finished(job)
    except AudioSourceError as exc:
        field = {"spk_audio": "reference_audio", "emo_audio": "emotion_reference"}.get(exc.field, exc.field)
        return _error(f"{field}: {exc.detail}", workflow_id, stage_name)
    except (TaskInputError, QueueFullError, GpuLockTimeout) as exc:
        return _error(str(exc), workflow_id, stage_name)
    except SoftTimeLimitExceeded:
        return _error(f"the task ran past its time limit ({settings.soft_time_limit} s)", workflow_id, stage_name)
    if job.state is JobState.CANCELLED:  # revoked: the result says so, as for a task revoked before it ran
        log.info("task %s: %s", self.request.id, job.error)
        self.backend.mark_as_revoked(self.request.id, "revoked while running", request=self.request)
        raise Ignore()
    if job.state is not JobState.COMPLETED or job.result is None:
        return _error(f"synthesis failed: {job.error}", workflow_id, stage_name)
    result = job.result
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    sf.write(partial, result.audio, result.sample_rate, format="WAV", subtype="PCM_16")
    partial.replace(target)
    log.info(
        "task %s: %.2f s of audio → %s in %.2f s",
        self.request.id,
        result.duration,
        target,
        time.perf_counter() - started,
    )
    return {
        "status": "success",
        "output_path": str(target),
        "duration": round(result.duration, 3),
        "sample_rate": result.sample_rate,
        "processing_time": round(time.perf_counter() - started, 3),
        "model_info": _model_info_short(),
        "parameters": _parameters(request),
        "workflow_id": workflow_id,
        "stage_name": stage_name,
    }


def _parameters(request: SynthesisRequest) -> dict[str, Any]:
    """What the task used, under the seed's names (reference_audio, emotion_alpha, emotion_vector …)."""
    used = request.model_dump(mode="json", exclude={"spk_audio", "emo_audio"})
    used |= {"spk_audio": str(request.spk_audio), "emo_audio": request.emo_audio}
    return {SEED_PARAMETERS.get(name, name): value for name, value in used.items()}


def _model_info_short() -> dict[str, Any]:
    loaded = WorkerState.node.loaded
    # model_type stays the seed's "IndexTTS2" (clients match on it); model_version and generation say which.
    return {
        "model_type": "IndexTTS2",
        "model_version": f"IndexTTS-{loaded.generation}",
        "generation": loaded.generation,
        "device": loaded.device,
    }


@app.task(name="indextts.get_model_info")
def get_model_info() -> dict[str, Any]:
    if WorkerState.node is None:
        return {"status": "error", "error": WorkerState.load_error or "no model loaded"}
    loaded = WorkerState.node.loaded
    return {
        "status": "success",
        **_model_info_short(),
        "model_dir": str(loaded.model_dir),
        "dtype": loaded.dtype,
        "demo_checkpoint": loaded.demo,
        "sample_rate": loaded.engine.sample_rate,
        "load_seconds": round(loaded.load_seconds, 2),
        "languages": list(loaded.engine.languages),
        "duration_factor": loaded.engine.has_duration_factor,
    }


@app.task(name="indextts.list_voice_presets")
def list_voice_presets() -> dict[str, Any]:
    presets = []
    for folder in settings.allowed_dirs:
        for path in sorted(folder.glob("*.wav")):
            info = sf.info(path)
            presets.append({"name": path.stem, "path": str(path), "duration": round(info.duration, 2)})
    return {"status": "success", "presets": presets, "count": len(presets)}


@app.task(name="indextts.health_check")
def health_check() -> dict[str, Any]:
    import torch

    gpu_available = torch.cuda.is_available()
    gpu = {
        "available": gpu_available,
        "count": torch.cuda.device_count() if gpu_available else 0,
        "name": torch.cuda.get_device_name(0) if gpu_available else None,
    }
    node = WorkerState.node
    model = {"loaded": node is not None}
    if node is not None:
        model |= {"model_dir": str(node.loaded.model_dir), "device": node.loaded.device, "demo": node.loaded.demo}
    lock_state, lock_word, error = None, "unavailable", WorkerState.load_error
    if WorkerState.lock is not None:
        try:
            lock_state = WorkerState.lock.state()
            lock_word = "held" if lock_state["held"] else "free"
        except redis.RedisError as exc:
            error = f"cannot read the GPU lock: {exc}"
    # The seed's fields are strings ("model": its state, "gpu_lock": its state); the detail rides along.
    return {
        "status": "healthy" if node is not None and error is None else "unhealthy",
        "service": "indextts_service",
        "gpu": gpu,
        "model": "loaded" if node is not None else "not_loaded",
        "gpu_lock": lock_word,
        "error": error,
        "model_detail": model,
        "gpu_lock_detail": lock_state,
    }
