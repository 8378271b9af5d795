"""Emotion from text: official answer-parsing rules, the WebUI vector helper, the Qwen wrapper on a tiny model."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch

from indextts.emotion import (
    EMOTION_UI_LABELS,
    EMOTIONS,
    EMOTIONS_ZH,
    TextEmotionModel,
    normalize_emotion_vector,
    parse_emotion_output,
    write_tiny_qwen,
)
from indextts.errors import CheckpointError, EmotionOutputError

CALM = [0.0] * 7 + [1.0]


def one_hot(name: str) -> list[float]:
    return [1.0 if e == name else 0.0 for e in EMOTIONS]


# ---------------------------------------------------------------------------------------------
# parsing


def test_emotion_orders_agree() -> None:
    assert EMOTIONS == ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")
    assert EMOTIONS_ZH == ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")
    assert EMOTION_UI_LABELS == ("喜", "怒", "哀", "惧", "厌恶", "低落", "惊喜", "平静")


PARSE_CASES = [
    # (answer, source text, expected vector)
    (
        '{"高兴": 0.8, "愤怒": 0.0, "悲伤": 0.1, "恐惧": 0.0, "反感": 0.0, "低落": 0.0, "惊讶": 0.2, "自然": 0.3}',
        "今天真开心",
        [0.8, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2, 0.3],
    ),
    ('{"愤怒": 0.7}', "x", [0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # partial keys: the rest 0
    ('{"happy": 0.8, "sad": 0.4}', "x", CALM),  # English *keys* are not read (upstream)
    ('{"高兴": "0.5", "extra": 9}', "x", [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # numeric string; unknown key
    # labels
    ('"sad"', "x", one_hot("sad")),
    ('" Angry "', "x", one_hot("angry")),
    ('"惊讶"', "x", one_hot("surprised")),
    ('"bored"', "x", CALM),
    ('{"emotion": "恐惧", "confidence": 0.9}', "x", one_hot("afraid")),
    ('{"label": "DISGUSTED"}', "x", one_hot("disgusted")),
    ('{"情绪": "高兴", "愤怒": 0.3}', "x", [0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # a score wins over the label
    ('{"高兴": "高兴"}', "x", one_hot("happy")),
    ('{"自然": "sad"}', "x", one_hot("sad")),  # a label as the value of another key moves the 1.0
    # not JSON: key: number pairs
    ('emotions: {"高兴": 0.6, "惊讶": 0.35', "x", [0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.35, 0.0]),
    ("高兴:0.5, 愤怒 : 0.25\n自然: 1", "x", [0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
    ("高兴:0.5，愤怒:0.25", "x", [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # upstream reads the key "，愤怒"
    ("高兴", "x", CALM),  # an unquoted label is neither JSON nor a pair
    ("", "x", CALM),
    # clamping and the calm default
    ('{"愤怒": 3.5, "高兴": 1.2000001}', "x", [1.2, 1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ('{"高兴": -0.5, "悲伤": 0.4}', "x", [0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ('{"高兴": -1}', "x", CALM),
    ('{"高兴": 0, "自然": 0.0}', "x", CALM),
    ('{"高兴": NaN}', "x", [1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # max(0, min(1.2, nan)) = 1.2, as upstream
    # melancholic swap, keyed on the lower-cased source text
    ('{"悲伤": 0.9, "低落": 0.1}', "I feel GLOOMY", [0.0, 0.0, 0.1, 0.0, 0.0, 0.9, 0.0, 0.0]),
    ('{"悲伤": 0.9}', "心情低落", [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]),
    ('{"悲伤": 0.9, "低落": 0.1}', "I feel sad", [0.0, 0.0, 0.9, 0.0, 0.0, 0.1, 0.0, 0.0]),
    # the reference list's Spanish words and "nostalgia" (accents matter: "melancolia" is not on it)
    ('{"悲伤": 0.9}', "Tengo un BAJÓN", [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]),
    ('{"悲伤": 0.9}', "Está deprimida", [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]),
    ('{"悲伤": 0.9}', "pure nostalgia", [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]),
    ('{"悲伤": 0.9}', "melancolia", [0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ('{"emotion": "悲伤"}', "心情低落", CALM),  # swap first adds the keys, so the label is ignored (upstream)
    ('"悲伤"', "Depressed", one_hot("melancholic")),  # upstream crashes here; we give the intended result
]


@pytest.mark.parametrize(("answer", "source", "expected"), PARSE_CASES)
def test_parse_emotion_output(answer: str, source: str, expected: list[float]) -> None:
    result = parse_emotion_output(answer, source)
    assert result == pytest.approx(expected, abs=0.0)
    assert all(isinstance(v, float) for v in result)


@pytest.mark.parametrize("answer", ['{"高兴": "very"}', '{"高兴": null}', '{"悲伤": [1]}', "高兴: 1.2.3"])
def test_non_numeric_score_is_a_typed_error(answer: str) -> None:
    with pytest.raises(EmotionOutputError, match="non-numeric"):
        parse_emotion_output(answer, "x")


# ---------------------------------------------------------------------------------------------
# WebUI vector helper


@pytest.mark.parametrize(
    ("values", "apply_bias", "expected"),
    [
        ([1, 0, 0, 0, 0, 0, 0, 0], True, [0.8, 0, 0, 0, 0, 0, 0, 0]),  # 0.9375 > 0.8 → scaled to 0.8
        ([0.4, 0, 0, 0, 0, 0, 0, 0.4], True, [0.375, 0, 0, 0, 0, 0, 0, 0.225]),  # sum 0.6: bias only
        ([0, 0, 0, 0, 0, 0, 1, 1], True, [0, 0, 0, 0, 0, 0, 0.44, 0.36]),  # 0.6875 + 0.5625 = 1.25 → × 0.64
        ([0.5, 0.5, 0, 0, 0, 0, 0, 0], False, [0.4, 0.4, 0, 0, 0, 0, 0, 0]),
        ([0.2, 0.3, 0, 0, 0, 0, 0, 0], False, [0.2, 0.3, 0, 0, 0, 0, 0, 0]),
        ([0] * 8, True, [0] * 8),
    ],
)
def test_normalize_emotion_vector(values: list[float], apply_bias: bool, expected: list[float]) -> None:
    result = normalize_emotion_vector(values, apply_bias=apply_bias)
    assert result == pytest.approx(expected, abs=1e-12)
    assert sum(result) <= 0.8 + 1e-12


def test_normalize_emotion_vector_needs_eight_values() -> None:
    with pytest.raises(ValueError, match="8 values"):
        normalize_emotion_vector([1.0, 0.0])


# ---------------------------------------------------------------------------------------------
# tiny Qwen folder and the wrapper


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen(tmp_path_factory.mktemp("qwen"), seed=0)


def test_tiny_qwen_is_small_and_deterministic(qwen_dir: Path, tmp_path: Path) -> None:
    names = {p.name for p in qwen_dir.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= names
    assert sum(p.stat().st_size for p in qwen_dir.iterdir()) < 5 * 2**20
    again = write_tiny_qwen(tmp_path / "again", seed=0)
    assert all((again / n).read_bytes() == (qwen_dir / n).read_bytes() for n in names)
    other = write_tiny_qwen(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (qwen_dir / "model.safetensors").read_bytes()


def test_tiny_qwen_loads_with_transformers(qwen_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, info = AutoModelForCausalLM.from_pretrained(qwen_dir, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (model.config.model_type, model.config.hidden_size, model.config.num_hidden_layers) == ("qwen3", 32, 2)
    tok = AutoTokenizer.from_pretrained(qwen_dir, local_files_only=True)
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "今天"}]
    off = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    on = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    turns = "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\n今天<|im_end|>\n"
    assert off == turns + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert on == off.removesuffix("<think>\n\n</think>\n\n")
    ids = tok("<think>a</think>{}<|im_end|>")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>a</think>{}"  # think markers are not special
    assert tok.decode(tok("今天真开心")["input_ids"]) == "今天真开心"


def test_text_emotion_model_returns_eight_scores_loaded_once(qwen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    real = transformers.AutoModelForCausalLM.from_pretrained
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        time.sleep(0.2)  # hold the load open so the second thread arrives during it
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", counting)
    emo = TextEmotionModel(qwen_dir, max_new_tokens=16)
    assert not emo.loaded
    results: list[list[float]] = []
    threads = [threading.Thread(target=lambda: results.append(emo("今天真开心"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and emo.loaded
    assert len(results) == 2 and results[0] == results[1]  # greedy tiny model
    assert len(results[0]) == 8 and all(isinstance(v, float) and 0.0 <= v <= 1.2 for v in results[0])


def test_answer_is_decoded_after_the_last_think_end(qwen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoTokenizer

    emo = TextEmotionModel(qwen_dir, max_new_tokens=16)
    emo.load()
    tok = AutoTokenizer.from_pretrained(qwen_dir, local_files_only=True)
    reply = '<think>{"愤怒": 1}</think>{"恐惧": 1}</think>\n\n{"高兴": 0.9, "惊讶": 0.3}<|im_end|>'
    reply_ids = torch.tensor([tok(reply)["input_ids"]])  # (1, T_new)
    assert tok.convert_tokens_to_ids("</think>") in reply_ids[0].tolist()

    def fake_generate(input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
        assert input_ids.shape[0] == 1 and kwargs["max_new_tokens"] == 16
        return torch.cat([input_ids, reply_ids], dim=1)  # (1, T_prompt + T_new)

    monkeypatch.setattr(emo._model, "generate", fake_generate)
    assert emo.answer("x") == '\n\n{"高兴": 0.9, "惊讶": 0.3}'
    assert emo("x") == [0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0]
    assert emo.decode_answer(tok('{"悲伤": 1}')["input_ids"]) == '{"悲伤": 1}'  # no </think>: everything


def test_missing_folder_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"IndexTeam/IndexTTS-2.*qwen0\.6bemo4-merge"):
        TextEmotionModel(tmp_path / "qwen0.6bemo4-merge")


def test_incomplete_folder_is_a_checkpoint_error(qwen_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "qwen"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((qwen_dir / name).read_bytes())
    with pytest.raises(CheckpointError, match=r"missing weights \(model\.safetensors\)"):
        TextEmotionModel(broken)


def test_unreadable_folder_fails_on_first_use(qwen_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "qwen"
    broken.mkdir()
    for p in qwen_dir.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    config = json.loads((broken / "config.json").read_text())
    config["hidden_size"] = 48  # weights no longer fit
    (broken / "config.json").write_text(json.dumps(config))
    emo = TextEmotionModel(broken)
    with pytest.raises(CheckpointError, match="cannot be loaded"):
        emo("x")
    assert not emo.loaded


def test_weights_lacking_a_tensor_are_a_checkpoint_error(qwen_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "qwen"
    broken.mkdir()
    for p in qwen_dir.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    state = load_file(broken / "model.safetensors")
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"lack 1 tensors \(model\.layers\.1\.mlp\.up_proj\.weight\)"):
        TextEmotionModel(broken).load()
