"""A node: the one engine, the one queue, the prompt-source policy and the connection status.

Front doors receive a `Node` and use `submit` (or its two halves, `prepare` then `queue.submit`);
none of them calls the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from indextts.pipeline import IndexTTS2
from serving.decode_batching import decode_batching_for, pipelining_for
from serving.engine import LoadedEngine
from serving.jobs import Job, JobQueue
from serving.outputs import OutputStore
from serving.pipelined import PipelinedRunner
from serving.request import SynthesisRequest
from serving.sources import SourcePolicy
from serving.status import ConnectionStatus
from serving.synthesis import EngineRunner, prepare

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeSettings:
    outputs_dir: Path = Path("outputs")
    allowed_dirs: tuple[Path, ...] = (Path("examples"),)  # prompt files front doors may name by path
    max_pending: int = 32
    keep_finished: float = 300.0  # seconds a finished job stays queryable
    max_batch: int = 8  # jobs running side by side (their GPT decode batched); 1 = strictly one at a time
    batch_decode: str = "auto"  # their segments' s2mel + vocoder batched too: auto (per device), on, off
    decode_workers: str = "auto"  # threads decoding while the GPT generates: auto (per device), 0 (off), n
    max_output_files: int = 500
    max_output_bytes: int = 2 * 1024**3
    allow_private_urls: bool = False
    spaces_server: str = ""  # its host may serve prompt audio even when it is on a private network
    extra_trusted_hosts: tuple[str, ...] = field(default_factory=tuple)

    def source_policy(self) -> SourcePolicy:
        trusted = list(self.extra_trusted_hosts)
        if self.spaces_server:
            host = urlsplit(self.spaces_server if "://" in self.spaces_server else f"//{self.spaces_server}").hostname
            trusted += [host] if host else []
        allowed = tuple(dict.fromkeys([*self.allowed_dirs, self.outputs_dir]))
        return SourcePolicy(
            allowed_dirs=tuple(p.resolve() for p in allowed),
            allow_private_urls=self.allow_private_urls,
            trusted_hosts=tuple(trusted),
        )


class Node:
    def __init__(self, loaded: LoadedEngine, settings: NodeSettings, status: ConnectionStatus | None = None) -> None:
        self.loaded, self.settings = loaded, settings
        self.policy = settings.source_policy()
        self.outputs = OutputStore(settings.outputs_dir, settings.max_output_files, settings.max_output_bytes)
        decode_batching = decode_batching_for(settings.batch_decode, loaded.engine.device)
        pipelining = pipelining_for(settings.decode_workers, loaded.engine.device)
        if pipelining is None:
            runner = EngineRunner(loaded.engine, self.outputs, decode_batching)
        else:
            runner = PipelinedRunner(loaded.engine, self.outputs, decode_batching, pipelining)
        self.queue = JobQueue(
            runner, settings.max_pending, settings.keep_finished, settings.max_batch, loaded.start_worker_thread
        )
        self.status = status or ConnectionStatus()

    @property
    def engine(self) -> IndexTTS2:
        return self.loaded.engine

    def submit(self, request: SynthesisRequest, origin: str) -> Job:
        """Check the prompts (may download), then queue. Raises AudioSourceError or QueueFullError."""
        return self.queue.submit(prepare(request, self.policy), origin)

    def close(self) -> None:
        self.queue.close()
