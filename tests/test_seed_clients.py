"""Seed 001's own example clients (tests/seed_clients/, the user's code word for word) against a real
StreamServer on the real tiny pipeline. Only the address is changed, to the test server's port.

The prompt path the seed's clients send, `asset/zero_shot_prompt.wav`, is made to exist: the
node reads prompts relative to a scratch folder that holds `asset/` as an allowed folder.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from serving.stream_server import StreamServer
from tests.api_servers import make_node
from tests.conftest import EXAMPLES, REPO

CLIENTS = Path(__file__).parent / "seed_clients"
SEED_URI = "ws://127.0.0.1:8770"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def server(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("seed-clients")
    (root / "asset").mkdir()
    shutil.copy(EXAMPLES / "voice_01.wav", root / "asset" / "zero_shot_prompt.wav")
    node = make_node(engine, demo_dir, root / "outputs", allowed_dirs=(root / "asset",))
    node.policy = dataclasses.replace(node.policy, base_dir=root)
    server = StreamServer(node, "127.0.0.1", 0)
    server.start()
    yield f"ws://127.0.0.1:{server.port}", root
    server.close()
    node.close()


def _client(name: str, uri: str, folder: Path) -> Path:
    source = (CLIENTS / name).read_text(encoding="utf-8")
    assert source.count(SEED_URI) == 1, "the seed's client is expected to name the address once"
    path = folder / name
    path.write_text(source.replace(SEED_URI, uri), encoding="utf-8")
    return path


def test_the_python_client_runs_as_a_script(server, tmp_path: Path):
    uri, _ = server
    script = _client("client_001.py", uri, tmp_path)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "连接成功: 已连接到 IndexTTS WebSocket"
    assert any(re.fullmatch(r"任务已排队: [0-9a-f]{8}\.\.\.", line) for line in lines), lines
    assert "开始生成音频" in lines and "生成完成" in lines
    assert any(re.fullmatch(r"收到音频数据 \(\d+ 字节\)", line) for line in lines)
    assert not any(line.startswith("错误:") for line in lines), done.stdout


@pytest.mark.parametrize("emo_mode", ["vector", "text"])
def test_the_python_client_returns_a_wav_in_each_emotion_mode(server, tmp_path: Path, emo_mode: str, capsys):
    uri, _ = server
    spec = importlib.util.spec_from_file_location(f"seed_client_{emo_mode}", _client("client_001.py", uri, tmp_path))
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    audio = client.asyncio.run(client.synthesize("今天天气真好啊！", emo_mode=emo_mode))
    printed = capsys.readouterr().out
    assert audio is not None, printed
    info = sf.info(io.BytesIO(audio))
    assert info.samplerate == 22050 and info.frames > 0
    assert "生成完成" in printed and "错误:" not in printed


def test_the_javascript_client_runs_under_node(server, tmp_path: Path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    uri, _ = server
    script = _client("client_001.js", uri, tmp_path)
    # Node 20 has the browser WebSocket (binary messages as Blob) behind this flag; 22+ by default.
    done = subprocess.run([node, "--experimental-websocket", str(script)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "连接成功" in out
    session = re.search(r"会话ID: (\S+)", out)
    assert session and UUID.fullmatch(session.group(1))
    task = re.search(r"任务已排队: (\S+)", out)
    assert task and UUID.fullmatch(task.group(1))
    assert out.index("开始生成音频") < out.index("收到完整音频") < out.index("生成完成")
    assert "status: 'error'" not in out
