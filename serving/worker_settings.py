"""The Celery worker's settings, read once from the environment at the process edge.

The seed's variables: INDEX_TTS_MODEL_DIR, INDEX_TTS_USE_FP16, INDEX_TTS_USE_DEEPSPEED,
INDEX_TTS_USE_CUDA_KERNEL (accepted; not needed here), CUDA_VISIBLE_DEVICES and HF_HOME (read by
CUDA and huggingface_hub themselves), CELERY_BROKER_URL, CELERY_RESULT_BACKEND. Ours:
INDEX_TTS_DEVICE, INDEX_TTS_DEMO, INDEXTTS_CACHE_DIR, INDEX_TTS_ALLOWED_DIRS (prompt folders),
INDEX_TTS_OUTPUT_DIRS (where output_path may point), INDEX_TTS_SOFT_TIME_LIMIT,
INDEX_TTS_TIME_LIMIT, INDEX_TTS_RESULT_EXPIRES, INDEX_TTS_VISIBILITY_TIMEOUT, INDEX_TTS_GPU_LOCK_TTL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from indextts.config import default_cache_dir

TRUE_WORDS = {"1", "true", "yes", "on"}
DEFAULT_REDIS = "redis://localhost:6379/0"


def _paths(value: str) -> tuple[Path, ...]:
    return tuple(Path(part.strip()).resolve() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class WorkerSettings:
    model_dir: Path
    device: str
    fp16: bool
    demo: bool
    demo_generation: str  # INDEX_TTS_DEMO=2.5 → the IndexTTS-2.5 demo layout
    cache_dir: Path
    allowed_dirs: tuple[Path, ...]
    output_dirs: tuple[Path, ...]
    broker_url: str
    result_backend: str
    soft_time_limit: int
    time_limit: int
    result_expires: int
    visibility_timeout: int
    gpu_lock_ttl: float
    deepspeed_requested: bool
    cuda_kernel_requested: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerSettings:
        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in TRUE_WORDS

        time_limit = int(env.get("INDEX_TTS_TIME_LIMIT", "2100"))
        return cls(
            model_dir=Path(env.get("INDEX_TTS_MODEL_DIR", "./checkpoints")),
            device=env.get("INDEX_TTS_DEVICE", "auto"),
            fp16=flag("INDEX_TTS_USE_FP16"),
            demo=flag("INDEX_TTS_DEMO") or env.get("INDEX_TTS_DEMO", "").strip() in ("2", "2.5"),
            demo_generation="2.5" if env.get("INDEX_TTS_DEMO", "").strip() == "2.5" else "2",
            cache_dir=Path(env.get("INDEXTTS_CACHE_DIR", str(default_cache_dir()))),
            allowed_dirs=_paths(env.get("INDEX_TTS_ALLOWED_DIRS", "./examples")),
            output_dirs=_paths(env.get("INDEX_TTS_OUTPUT_DIRS", "./outputs")),
            broker_url=env.get("CELERY_BROKER_URL", DEFAULT_REDIS),
            result_backend=env.get("CELERY_RESULT_BACKEND", env.get("CELERY_BROKER_URL", DEFAULT_REDIS)),
            soft_time_limit=int(env.get("INDEX_TTS_SOFT_TIME_LIMIT", "1800")),
            time_limit=time_limit,
            result_expires=int(env.get("INDEX_TTS_RESULT_EXPIRES", str(24 * 3600))),
            # An unacknowledged task goes back to the queue after this long: it must exceed the
            # hard time limit, or a long task would be delivered twice.
            visibility_timeout=int(env.get("INDEX_TTS_VISIBILITY_TIMEOUT", str(time_limit + 300))),
            gpu_lock_ttl=float(env.get("INDEX_TTS_GPU_LOCK_TTL", "60")),
            deepspeed_requested=flag("INDEX_TTS_USE_DEEPSPEED"),
            cuda_kernel_requested=flag("INDEX_TTS_USE_CUDA_KERNEL"),
        )
