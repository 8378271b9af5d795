"""The Celery worker for real: a `redis-server` and `celery worker` processes on the tiny checkpoint,
and a plain Celery client that knows the tasks only by name."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import soundfile as sf
from celery import Celery

from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (make test installs it)"
)
FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}
QUEUE = "indextts_queue"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and server.poll() is None, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


class Workers:
    """Starts `celery worker` processes with the worker's env vars; kills them all at the end."""

    def __init__(self, broker: str, demo_dir: Path, cache_dir: Path, folder: Path) -> None:
        self.outputs = folder / "outputs"
        self.log = folder / "workers.log"
        self.env = {
            **os.environ,
            "CELERY_BROKER_URL": f"{broker}/0",
            "CELERY_RESULT_BACKEND": f"{broker}/1",
            "INDEX_TTS_MODEL_DIR": str(demo_dir),
            "INDEXTTS_CACHE_DIR": str(cache_dir),
            "INDEX_TTS_DEVICE": "cpu",
            "INDEX_TTS_ALLOWED_DIRS": str(EXAMPLES),
            "INDEX_TTS_OUTPUT_DIRS": str(self.outputs),
            "INDEX_TTS_VISIBILITY_TIMEOUT": "8",  # a dead worker's task comes back quickly in tests
            "INDEX_TTS_GPU_LOCK_TTL": "4",  # and its GPU lock expires quickly
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "serving.celery_app", "worker", "-Q", QUEUE]
        command += ["--pool", "solo", "-n", f"{name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
        with self.log.open("ab") as sink:
            process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture(scope="module")
def workers(broker: str, demo_dir: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    pool = Workers(broker, demo_dir, cache_dir, tmp_path_factory.mktemp("celery"))
    pool.start("first")
    yield pool
    pool.stop()


@pytest.fixture(scope="module")
def client(broker: str) -> Celery:
    return Celery("client", broker=f"{broker}/0", backend=f"{broker}/1")


def _call(client: Celery, task: str, timeout: float = 180, **kwargs):
    return client.send_task(task, kwargs=kwargs, queue=QUEUE).get(timeout=timeout)


def test_generate_speech_writes_the_wav_and_describes_it(client: Celery, workers: Workers, layout: str):
    target = workers.outputs / "jobs" / "hello.wav"
    voice = str(EXAMPLES / "voice_01.wav")
    result = _call(client, "indextts.generate_speech", text="你好，欢迎使用。", output_path=str(target),
                   reference_audio=voice, workflow_id="wf-1", stage_name="tts", **FAST)  # fmt: skip
    assert result["status"] == "success", result
    audio, rate = sf.read(target, dtype="int16")
    assert result["output_path"] == str(target) and rate == result["sample_rate"] == 22050
    assert result["duration"] == pytest.approx(audio.shape[0] / rate, abs=1e-3)
    # model_type stays the seed's "IndexTTS2" on either generation; model_version names the generation
    assert result["model_info"] == {"model_type": "IndexTTS2", "model_version": f"IndexTTS-{layout}", "device": "cpu"}
    parameters = result["parameters"]
    assert parameters["text"] == "你好，欢迎使用。" and parameters["emotion_alpha"] == 0.65
    assert parameters["reference_audio"] == voice and parameters["emotion_vector"] is None
    assert not {"emo_alpha", "emo_vector", "spk_audio"} & set(parameters)  # the seed's names only
    assert (result["workflow_id"], result["stage_name"]) == ("wf-1", "tts")
    assert result["processing_time"] > 0


def test_emotion_arguments_choose_the_mode(client: Celery, workers: Workers):
    result = _call(client, "indextts.generate_speech", text="太好了！", output_path="vector.wav",
                   spk_audio_prompt=str(EXAMPLES / "voice_02.wav"), emotion_vector=[0.7, 0, 0, 0, 0, 0, 0, 0],
                   **FAST)  # fmt: skip
    assert result["status"] == "success", result
    assert result["parameters"]["emotion_mode"] == "vector"
    assert result["parameters"]["emotion_vector"] == [0.7, 0, 0, 0, 0, 0, 0, 0]
    assert Path(result["output_path"]) == workers.outputs / "vector.wav"


def test_info_tasks_answer(client: Celery, workers: Workers, layout: str):
    health = _call(client, "indextts.health_check")
    assert health["status"] == "healthy" and health["service"] == "indextts_service" and health["error"] is None
    assert health["gpu"] == {"available": False, "count": 0, "name": None}
    assert health["model"] == "loaded" and health["gpu_lock"] == "free"  # the seed's strings
    assert health["model_detail"]["loaded"] is True
    assert health["gpu_lock_detail"]["key"].startswith("indextts:gpu_lock:") and not health["gpu_lock_detail"]["held"]
    info = _call(client, "indextts.get_model_info")
    assert info["model_type"] == "IndexTTS2" and info["sample_rate"] == 22050 and info["device"] == "cpu"
    assert (info["generation"], info["model_version"]) == (layout, f"IndexTTS-{layout}")
    if layout == "2":
        assert info["languages"] == []  # IndexTTS-2 picks Chinese or English by itself
    else:
        assert {"zh", "en", "ja", "es"} <= set(info["languages"])
    presets = _call(client, "indextts.list_voice_presets")["presets"]
    assert {"voice_01", "voice_11", "emo_sad"} <= {preset["name"] for preset in presets}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"text": "", "reference_audio": str(EXAMPLES / "voice_01.wav")}, "text"),
        (
            {"text": "好。", "reference_audio": str(EXAMPLES / "voice_01.wav"), "output_path": "/etc/x.wav"},
            "output_path",
        ),
        ({"text": "好。", "reference_audio": str(EXAMPLES / "missing.wav")}, "reference_audio"),
        ({"text": "好。"}, "reference_audio"),
        (
            {"text": "好。", "reference_audio": str(EXAMPLES / "voice_01.wav"), "emotion_vector": [2, 0]},
            "emotion_vector",
        ),
        ({"text": "好。", "reference_audio": str(EXAMPLES / "voice_01.wav"), "volume": 11}, "volume"),
        (
            {"text": "好。", "reference_audio": str(EXAMPLES / "voice_01.wav"), "emotion_alpha": True},
            "emotion_alpha: must be a number, not true",
        ),
        (
            {"text": "好。", "reference_audio": str(EXAMPLES / "voice_01.wav"), "emotion_vector": {"happy": True}},
            "emotion_vector: must be a number, not true",
        ),
    ],
)
def test_bad_input_is_an_error_result_and_the_worker_keeps_serving(client: Celery, workers: Workers, kwargs, words):
    result = _call(client, "indextts.generate_speech", **kwargs)
    assert result["status"] == "error" and words in result["error"], result
    assert workers.processes[0].poll() is None


def test_a_revoked_task_stops_its_synthesis_and_frees_the_worker(client: Celery, workers: Workers, broker: str):
    from celery.exceptions import TaskRevokedError

    from tests.test_cancellation import CANCEL_BOUND

    lock_keys = redis.Redis.from_url(f"{broker}/0")
    target = workers.outputs / "revoked.wav"
    voice = str(EXAMPLES / "voice_01.wav")
    # A first short task: the worker's prompt cache then holds the voice, so the long task is
    # decoding (not encoding its prompt) when it is revoked.
    warm = _call(client, "indextts.generate_speech", text="你好。", reference_audio=voice, **FAST)
    assert warm["status"] == "success", warm
    # The tiny checkpoint never emits its stop code and the demo caps each segment's length by its
    # text, so a long text makes a long task: uncancelled, this runs for minutes.
    long = {"text": "This sentence is never finished. " * 80, "max_mel_tokens": 1500, "num_beams": 1, "seed": 7}
    pending = client.send_task(
        "indextts.generate_speech",
        kwargs={**long, "output_path": str(target), "reference_audio": voice},
        queue=QUEUE,
    )
    deadline = time.monotonic() + 120
    while not lock_keys.keys("indextts:gpu_lock:*"):  # the worker holds the GPU lock while it synthesizes
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    time.sleep(1.0)
    revoked_at = time.monotonic()
    pending.revoke()  # no terminate: the worker process lives on
    while pending.state != "REVOKED":
        assert time.monotonic() - revoked_at < CANCEL_BOUND + 10, f"still {pending.state}"
        time.sleep(0.05)
    assert time.monotonic() - revoked_at < CANCEL_BOUND
    with pytest.raises(TaskRevokedError):
        pending.get(timeout=10)
    assert not target.exists()
    result = _call(client, "indextts.generate_speech", text="下一个任务。", output_path="after-revoke.wav",
                   reference_audio=str(EXAMPLES / "voice_02.wav"), timeout=60, **FAST)  # fmt: skip
    assert result["status"] == "success", result
    assert all(process.poll() is None for process in workers.processes)
    assert "cancelled while running" in workers.log.read_text()


def test_a_task_whose_worker_dies_is_delivered_again(client: Celery, workers: Workers, broker: str):
    lock_keys = redis.Redis.from_url(f"{broker}/0")
    target = workers.outputs / "survivor.wav"
    long_text = "这是一段比较长的文字，用来让任务运行一会儿。" * 6
    pending = client.send_task(
        "indextts.generate_speech",
        kwargs={"text": long_text, "output_path": str(target), "reference_audio": str(EXAMPLES / "voice_03.wav"),
                "max_text_tokens_per_segment": 30, **FAST},
        queue=QUEUE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not lock_keys.keys("indextts:gpu_lock:*"):  # the worker holds the GPU lock while it synthesizes
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    first = workers.processes[0]
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert not target.exists()
    workers.start("second")
    result = pending.get(timeout=240)
    assert result["status"] == "success" and target.exists(), result
    assert not lock_keys.keys("indextts:gpu_lock:*")  # released by its holder after the task
