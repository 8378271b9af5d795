"""IndexTTS-2.5 on the tiny 2.5 checkpoint: detection, strict loading, the 2.5 maths, synthesis."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from indextts.checkpoint_v25 import load_unified_voice_25
from indextts.config import load_config
from indextts.config_v25 import ModelConfig25
from indextts.errors import CheckpointError, ConfigError, TextError
from indextts.generation import detect_generation, load_config_for

from .conftest import EXAMPLES

pytestmark = pytest.mark.generation("2.5", reason="the 2.5 model and its options")

FAST = dict(max_mel_tokens=6, num_beams=1, max_text_tokens_per_segment=40)


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s of voice_07: the flow-matching solve runs over prompt + generated frames, so a short
    prompt keeps each synthesis cheap (the maths is the same for any prompt length)."""
    wave, rate = sf.read(EXAMPLES / "voice_07.wav", dtype="float32")
    path = tmp_path_factory.mktemp("voice") / "short.wav"
    sf.write(path, wave[: int(1.5 * rate)], rate)
    return path


def samples_25(codes: list[int], interval_ms: int = 200, factor: float = 1.0) -> int:
    """2.5: int(2N · 1.72 · factor) mel frames per segment, 256 samples each, plus the silences."""
    frames = [int(2 * n * 1.72 * factor) for n in codes]
    return sum(f * 256 for f in frames) + (len(frames) - 1) * int(22050 * interval_ms / 1000)


# --- detection and loading ---------------------------------------------------------------------


def test_each_layout_is_recognised_from_its_files(demo_checkpoint):
    demo_dir, demo25_dir = demo_checkpoint("2"), demo_checkpoint("2.5")
    assert detect_generation(demo_dir) == "2"
    assert detect_generation(demo25_dir) == "2.5"
    cfg = load_config_for(demo25_dir)
    assert isinstance(cfg, ModelConfig25) and cfg.version == 2.5
    assert (cfg.semantic_codec.downsample_scale, cfg.semantic_codec.num_quantizers) == (2, 1)
    assert (demo25_dir / cfg.dataset.bpe_model).suffix == ".tiktoken" and (demo25_dir / "codec.pth").is_file()


def test_a_folder_that_is_neither_names_what_each_generation_misses(demo_dir: Path, tmp_path: Path):
    with pytest.raises(CheckpointError) as empty:
        detect_generation(tmp_path)
    message = str(empty.value)
    assert "bpe.model" in message and "codec.pth" in message and "*.tiktoken" in message
    assert "hf download IndexTeam/IndexTTS-2 " in message and "hf download IndexTeam/IndexTTS-2.5 " in message
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.yaml", "gpt.pth", "s2mel.pth", "multilingual_zh_ja_yue_char_del.tiktoken"):
        shutil.copy(demo_dir / name, partial / name)
    with pytest.raises(CheckpointError, match=r"version 2.5.*\n.*\n.*IndexTTS-2.5 .*needs: codec.pth"):
        detect_generation(partial)


def test_the_2_5_config_is_strict(demo_dir: Path, tmp_path: Path):
    mapping = yaml.safe_load((demo_dir / "config.yaml").read_text())
    mapping["semantic_codec"]["downsample_scal"] = 2
    del mapping["gpt"]["stop_text_token"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(ConfigError) as bad:
        load_config(path, ModelConfig25)
    assert "missing key 'gpt.stop_text_token'" in str(bad.value)
    assert "unknown key 'semantic_codec.downsample_scal' (did you mean 'downsample_scale'?)" in str(bad.value)
    with pytest.raises(ConfigError, match=r"invalid IndexTTS-2 config:\n.*'semantic_codec.num_quantizers'"):
        load_config(demo_dir)


def test_gpt_weights_load_strictly_listing_every_wrong_key(demo_dir: Path, tmp_path: Path):
    state = torch.load(demo_dir / "gpt.pth", weights_only=True)
    state.pop("spk_emb_proj.weight")
    state["speed_emb.weight"] = torch.zeros(2, 64)  # a 2.0 key has no place in a 2.5 GPT
    torch.save(state, tmp_path / "gpt.pth")
    with pytest.raises(CheckpointError) as bad:
        load_unified_voice_25(tmp_path / "gpt.pth", load_config_for(demo_dir))
    assert "spk_emb_proj.weight" in str(bad.value) and "speed_emb.weight" in str(bad.value)


def test_the_tiny_folder_keeps_the_widths_the_official_2_5_code_hard_codes(demo_dir: Path):
    """The official infer_v2_5 builds the emotion conformer, perceiver and emovec_layer 1024 wide and
    reads w2v-BERT layer 17 by index: a tiny folder narrower than that would not load there."""
    cfg = load_config_for(demo_dir)
    w2v = yaml.safe_load((demo_dir / "hf_cache" / "w2v-bert-2.0" / "config.json").read_text())
    assert (w2v["hidden_size"], cfg.semantic_codec.hidden_size, cfg.s2mel.length_regulator.in_channels) == (1024,) * 3
    assert w2v["num_hidden_layers"] >= 17
    assert torch.load(demo_dir / cfg.w2v_stat, weights_only=True)["mean"].shape == (1024,)
    gpt = torch.load(demo_dir / "gpt.pth", weights_only=True)
    assert gpt["emovec_layer.weight"].shape == (cfg.gpt.model_dim, 1024)
    assert gpt["lang_embedding.weight"].shape[0] == 107  # len(LANGUAGE_DICT) + 1 upstream
    assert cfg.gpt.model_dim < 1280 and cfg.s2mel.dit.hidden_dim < 512  # everything else stays small


# --- the 2.5 maths -----------------------------------------------------------------------------


def test_conditioning_is_one_projected_style_row_and_two_zero_rows(engine):
    gpt = engine.models.gpt
    style, emovec = torch.randn(1, 192), torch.randn(1, 64)
    cond = gpt.conditioning(gpt.speaker_latent(style), emovec)
    assert cond.shape == (1, 3, 64)
    torch.testing.assert_close(cond[0, 0], gpt.spk_emb_proj(style)[0] + emovec[0])
    assert torch.count_nonzero(cond[0, 1:]) == 0


def test_language_row_is_added_to_every_text_row_and_ids_0_1_are_dropped(engine):
    gpt = engine.models.gpt
    cond = torch.zeros(1, 3, 64)
    ids = torch.tensor([300, 0, 301, 1])  # ids 0 and 1 never reach the GPT (start/stop of the text)
    en, es = gpt.prefix(cond, ids, 0), gpt.prefix(cond, ids, 3)
    assert en.shape == (1, 3 + 2 + 2, 64)  # [cond ×3 ; start, 300, 301, stop]
    difference = gpt.lang_embedding.weight[3] - gpt.lang_embedding.weight[0]
    torch.testing.assert_close(es[0, 3:] - en[0, 3:], difference.expand(4, -1))
    torch.testing.assert_close(es[0, :3], en[0, :3])


def test_codec_decode_doubles_the_frame_rate(engine):
    codec = engine.models.codec
    s_infer = codec.decode(torch.tensor([[5, 6, 7]]))
    assert s_infer.shape == (1, 6, engine.models.cfg.semantic_dim)


# --- synthesis ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "prefix"),
    [
        ("zh", "你好，世界。", "<|zh|>"),
        ("en", "Hello there.", "<|en|>"),
        ("ja", "こんにちは。", "<|ja|>"),
        ("es", "Hola.", "<|es|>"),
    ],
)
def test_each_language_synthesises_with_its_prefix_token(voice, engine, language: str, text: str, prefix: str):
    tokenizer = engine.models.frontend.tokenizer
    segments = engine.split_segments(text, 40, language=language)
    assert segments[0].ids[0] == tokenizer.specials[prefix]
    result = engine.synthesize(voice, text, language=language, seed=2, **FAST)
    assert result.audio.shape == (samples_25([FAST["max_mel_tokens"]]),)
    assert np.abs(result.audio).max() > 0


def test_auto_language_reads_the_text(voice, engine):
    assert engine.split_segments("こんにちは", 40)[0].ids[0] == engine.models.frontend.tokenizer.specials["<|ja|>"]
    with pytest.raises(TextError, match="language 'xx'"):
        engine.synthesize(voice, "Hello.", language="xx", **FAST)


@pytest.mark.parametrize(
    "emotion",
    [
        {},
        {"emo_audio_prompt": EXAMPLES / "emo_sad.wav", "emo_alpha": 0.65},
        {"emo_vector": [0, 0, 0, 0, 0, 0, 0.5, 0.3], "emo_alpha": 0.8},
        {"use_emo_text": True, "emo_text": "我今天太开心了"},
    ],
    ids=["same-as-speaker", "emotion-audio", "emotion-vector", "emotion-text"],
)
def test_every_emotion_mode_synthesises(voice, engine, emotion):
    result = engine.synthesize(voice, "Hello.", language="en", seed=4, **emotion, **FAST)
    assert result.audio.shape == (samples_25([FAST["max_mel_tokens"]]),)


def test_two_segments_stream_and_join_with_silence(voice, engine):
    text = "The first sentence is here. And this is the second one."
    result = engine.synthesize(
        voice, text, language="en", seed=5, interval_silence=300, **(FAST | {"max_text_tokens_per_segment": 20})
    )
    assert [s.text for s in result.segments] == ["the first sentence is here.", "and this is the second one."]
    assert result.audio.shape == (samples_25([s.codes for s in result.segments], 300),)


def test_duration_factor_scales_the_length(voice, engine):
    lengths = {
        f: engine.synthesize(voice, "Hello.", language="en", seed=6, duration_factor=f, **FAST).audio.shape[0]
        for f in (0.5, 2.0)
    }
    assert lengths == {f: samples_25([FAST["max_mel_tokens"]], factor=f) for f in (0.5, 2.0)}
    with pytest.raises(TextError, match=r"duration_factor must be between 0\.5 and 2\.0"):
        engine.synthesize(voice, "Hello.", duration_factor=3.0, **FAST)


@pytest.mark.generation("2", reason="the refusal of 2.5-only options")
def test_the_2_0_engine_refuses_2_5_options_by_name(voice, engine):
    assert engine.generation == "2" and engine.languages == () and not engine.has_duration_factor
    with pytest.raises(TextError, match="duration_factor"):
        engine.synthesize(voice, "Hello.", duration_factor=1.5, **FAST)
    with pytest.raises(TextError, match="language 'ja'"):
        engine.synthesize(voice, "Hello.", language="ja", **FAST)
