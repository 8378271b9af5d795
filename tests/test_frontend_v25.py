"""The IndexTTS-2.5 text front end: normalisation, casing, annotations and segments per language.

Runs the real normalisers (WeTextProcessing for zh/en, NeMo for es, MeCab for ja) on the factory's
tiny vocabulary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indextts.errors import TextError
from indextts.factory.multilingual_vocab import write_multilingual_tokenizer
from indextts.text.frontend_v25 import MultilingualFrontEnd
from indextts.text.glossary import GLOSSARY_FILENAME, Glossary
from indextts.text.multilingual import VOCAB_FILENAME, MultilingualTokenizer
from indextts.text.normalizer import TextNormalizer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text half of a 2.5 checkpoint folder: the vocabulary and a glossary."""
    folder = tmp_path_factory.mktemp("checkpoint-2.5")
    write_multilingual_tokenizer(folder / VOCAB_FILENAME, "tiny")
    Glossary({"NVMe": "N V M E"}).save(folder / GLOSSARY_FILENAME)
    return folder


@pytest.fixture(scope="module")
def frontend(model_dir: Path, normalizer: TextNormalizer, cache_dir: Path) -> MultilingualFrontEnd:
    return MultilingualFrontEnd.from_checkpoint(model_dir, VOCAB_FILENAME, 600, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def tokenizer(frontend: MultilingualFrontEnd) -> MultilingualTokenizer:
    return frontend.tokenizer


@pytest.mark.parametrize(
    ("language", "text", "prepared"),
    [
        ("zh", "今天是2024年1月1日。", "今天是二零二四年一月一日."),
        ("en", "I have 3 Apples.", "i have three apples."),
        ("ja", "今日は良い天気です。", "今日 は 良い 天気 です ."),
        ("es", "Tengo 25 años.", "TENGO VEINTICINCO AÑOS."),
        ("ar", "مرحبا 123", "مرحبا 123"),  # neither normalised nor re-cased
    ],
)
def test_each_language_is_normalised_and_cased_its_own_way(
    frontend: MultilingualFrontEnd, language: str, text: str, prepared: str
) -> None:
    assert frontend.prepare(text, language) == prepared
    [segment] = frontend.segments(text, language)
    assert segment.text == prepared.strip()
    tokenizer = frontend.tokenizer
    assert list(segment.ids) == tokenizer.encode_segment(prepared, language)
    assert segment.ids[0] == tokenizer.special_id(f"<|{language}|>")
    assert segment.ids[-1] == 1


def test_normalisation_can_be_switched_off(frontend: MultilingualFrontEnd) -> None:
    assert frontend.prepare("I have 3 Apples。", "en", normalize=False) == "i have 3 apples."


def test_the_checkpoint_glossary_is_read_for_zh_and_en(frontend: MultilingualFrontEnd) -> None:
    assert frontend.prepare("an NVMe disk", "en") == "an n v m e disk"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("今日はいい天気ですね", "ja"),
        ("今天天气很好", "zh"),
        ("مرحبا بالعالم", "ar"),
        ("¿Qué tal? Mañana", "es"),
        ("Hello there", "en"),
        ("<行|xing2> is a word", "zh"),  # the annotated word counts, not its reading
    ],
)
def test_a_request_without_language_gets_a_guess(frontend: MultilingualFrontEnd, text: str, language: str) -> None:
    assert frontend.detect_language(text) == language


@pytest.mark.parametrize(
    ("language", "text", "prepared"),
    [
        ("zh", "<行|xing2>人", "<|SPECIAL_TOKEN_2|>XING2<|SPECIAL_TOKEN_2|>人"),
        ("en", "a <going|g ow1 . ih0 ng> day", "a <|SPECIAL_TOKEN_1|>G OW1 . IH0 NG<|SPECIAL_TOKEN_1|> day"),
        ("ja", "<日本|にほん>へ<行く|イク>", " にほん へ イク "),
        ("es", "<casa|k a s a>", "<|SPECIAL_TOKEN_1|>K A S A<|SPECIAL_TOKEN_1|>"),
    ],
)
def test_pronunciation_annotations_become_readings(
    frontend: MultilingualFrontEnd, language: str, text: str, prepared: str
) -> None:
    assert frontend.prepare(text, language) == prepared


def test_special_tokens_typed_in_lower_case_are_read_as_tokens(frontend: MultilingualFrontEnd) -> None:
    prepared = frontend.prepare("say <|special_token_1|>hh<|special_token_1|>", "en", normalize=False)
    assert prepared == "say <|SPECIAL_TOKEN_1|>hh<|SPECIAL_TOKEN_1|>"
    marker = frontend.tokenizer.special_id("<|SPECIAL_TOKEN_1|>")
    assert frontend.segments(prepared, "en", normalize=False)[0].ids.count(marker) == 2


def test_two_sentences_over_the_budget_become_two_segments(frontend: MultilingualFrontEnd) -> None:
    text = "今天天气很好。我们一起去公园散步吧。"
    whole = frontend.segments(text, "zh", max_tokens=120)
    assert [s.text for s in whole] == ["今天天气很好.我们一起去公园散步吧."]
    halves = frontend.segments(text, "zh", max_tokens=14)
    assert [s.text for s in halves] == ["今天天气很好.", "我们一起去公园散步吧."]
    for segment in halves:
        assert segment.ids[0] == frontend.tokenizer.special_id("<|zh|>")
        assert len(segment.ids) - 1 <= 14  # the budget counts the prefix, not the appended stop id


def test_a_marked_reading_is_never_cut(frontend: MultilingualFrontEnd) -> None:
    segments = frontend.segments("a <going|g ow1 . ih0 ng> b", "en", max_tokens=4)
    marked = [s.text for s in segments if "SPECIAL_TOKEN_1" in s.text]
    assert marked == ["<|SPECIAL_TOKEN_1|>G OW1 . IH0 NG<|SPECIAL_TOKEN_1|>"]


def test_segments_never_exceed_the_gpt_text_capacity(tokenizer: MultilingualTokenizer, normalizer, cache_dir) -> None:
    small = MultilingualFrontEnd(tokenizer, normalizer, cache_dir, text_capacity=8)
    segments = small.segments("one two three four five six seven eight nine ten", "en", normalize=False)
    assert len(segments) > 1
    assert all(len(s.ids) - 1 <= 8 for s in segments)


def test_bad_requests_are_clear_errors(frontend: MultilingualFrontEnd) -> None:
    with pytest.raises(TextError, match="language: 'fr'"):
        frontend.segments("bonjour", "fr")
    with pytest.raises(TextError, match="max_text_tokens_per_segment"):
        frontend.segments("hello", "en", max_tokens=0)
    assert frontend.segments("   ", "en") == [] and frontend.segments("\u200b\u200b\ufeff", "zh") == []
