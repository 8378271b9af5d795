"""The IndexTTS-2.5 tiktoken tokenizer on the factory's synthetic vocabularies."""

from __future__ import annotations

from pathlib import Path

import pytest

from indextts.errors import CheckpointError, TextError
from indextts.factory.multilingual_vocab import NUMBER_TEXT_TOKENS, write_multilingual_tokenizer
from indextts.text.multilingual import VOCAB_FILENAME, MultilingualTokenizer, special_tokens


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> MultilingualTokenizer:
    path = write_multilingual_tokenizer(tmp_path_factory.mktemp("vocab") / VOCAB_FILENAME, "tiny")
    return MultilingualTokenizer.from_file(path)


def test_full_vocabulary_has_the_official_size_and_special_ids(tmp_path: Path) -> None:
    tokenizer = MultilingualTokenizer.from_file(write_multilingual_tokenizer(tmp_path / VOCAB_FILENAME, "full"))
    assert tokenizer.vocab_size == NUMBER_TEXT_TOKENS["full"] == 60509
    ranks = tokenizer.rank_count
    assert ranks == 60509 - 1673
    # Specials follow the ranks in the official order.
    assert tokenizer.special_id("<|endoftext|>") == ranks
    assert tokenizer.special_id("<|en|>") == ranks + 2
    assert tokenizer.special_id("<|zh|>") == ranks + 3
    assert tokenizer.special_id("<|ja|>") == ranks + 9
    assert tokenizer.special_id("<|SPECIAL_TOKEN_1|>") == ranks + 122
    assert tokenizer.special_id("<|30.00|>") == 60508
    with pytest.raises(KeyError):
        tokenizer.special_id("<|yue|>")  # a lang_embedding row, but no special token


def test_special_token_table_is_complete() -> None:
    tokens = special_tokens()
    assert len(tokens) == len(set(tokens)) == 1673
    assert tokens[:3] == ("<|endoftext|>", "<|startoftranscript|>", "<|en|>")
    assert tokens[-2:] == ("<|29.98|>", "<|30.00|>")


@pytest.mark.parametrize(
    ("language", "text", "row"),
    [
        ("zh", "今天天气很好", 1),
        ("en", "hello world, this is a test.", 0),
        ("ja", "こんにちは 、 世界 。", 7),
        ("es", "HOLA, ¿CÓMO ESTÁS?", 3),
        ("ar", "مرحبا", 13),
    ],
)
def test_segment_ids_are_prefix_text_and_stop(tiny: MultilingualTokenizer, language: str, text: str, row: int) -> None:
    ids = tiny.encode_segment(text, language)
    assert ids[0] == tiny.special_id(f"<|{language}|>")
    assert ids[-1] == 1
    assert tiny.decode(ids[1:-1]) == " " + text
    assert max(ids) < tiny.vocab_size == NUMBER_TEXT_TOKENS["tiny"]
    assert tiny.language_index(language) == row
    assert tiny.language_index(language.upper()) == row


def test_hanzi_and_kana_are_one_token_each(tiny: MultilingualTokenizer) -> None:
    assert len(tiny.encode("今天天气很好")) == 6
    assert len(tiny.encode("こんにちは")) == 5


def test_bang_and_quote_are_ids_zero_and_one(tiny: MultilingualTokenizer) -> None:
    # The GPT input path drops ids 0 and 1 (its start/stop tokens), so these two never reach it.
    assert tiny.encode('!"') == [0, 1]


def test_annotation_tokens_in_text_are_single_special_ids(tiny: MultilingualTokenizer) -> None:
    ids = tiny.encode("<|SPECIAL_TOKEN_2|>XING2<|SPECIAL_TOKEN_2|>")
    marker = tiny.special_id("<|SPECIAL_TOKEN_2|>")
    assert ids[0] == ids[-1] == marker
    assert marker in tiny.annotation_token_ids
    assert tiny.decode(ids[1:-1]) == "XING2"


def test_unknown_language_is_a_clear_error(tiny: MultilingualTokenizer) -> None:
    with pytest.raises(TextError, match="language: 'fr'"):
        tiny.encode_segment("bonjour", "fr")
    with pytest.raises(TextError, match="language"):
        tiny.language_index("klingon")


def test_missing_or_broken_vocabulary_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        MultilingualTokenizer.from_file(tmp_path / VOCAB_FILENAME)
    broken = tmp_path / "broken.tiktoken"
    broken.write_text("IQ== 0\nnot-base64! 1\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="line 2"):
        MultilingualTokenizer.from_file(broken)
    gap = tmp_path / "gap.tiktoken"
    gap.write_text("IQ== 0\nIg== 5\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="without gaps"):
        MultilingualTokenizer.from_file(gap)
