"""Pronunciation annotations of the IndexTTS-2.5 front end: `<word|reading>` in the text.

The word is dropped and its reading (upper-cased) is what the GPT reads:

    <行|xing2>              → <|SPECIAL_TOKEN_2|>XING2<|SPECIAL_TOKEN_2|>   (word has a hanzi: pinyin)
    <going|g ow1 . ih0 ng>  → <|SPECIAL_TOKEN_1|>G OW1 . IH0 NG<|SPECIAL_TOKEN_1|>   (otherwise: CMU phones)
    <日本|にほん>            → " にほん "   (a reading all in hiragana or all in katakana: plain kana)

The markers are special tokens, so the segmenter never cuts inside a marked reading.
"""

from __future__ import annotations

import re

from indextts.text.rules import HAN, PRONUNCIATION_ANNOTATION

PINYIN_MARKER = "<|SPECIAL_TOKEN_2|>"
PHONE_MARKER = "<|SPECIAL_TOKEN_1|>"
# A reading wrapped in markers, as the segmenter must keep it whole.
MARKED_READING = re.compile(r"<\|SPECIAL_TOKEN_\d+\|>.*?<\|SPECIAL_TOKEN_\d+\|>")

_HIRAGANA = re.compile(r"[\u3040-\u309F]+")
_KATAKANA = re.compile(r"[\u30A0-\u30FF]+")


def is_kana(text: str) -> bool:
    """All hiragana or all katakana (a mix of the two is not)."""
    return bool(_HIRAGANA.fullmatch(text) or _KATAKANA.fullmatch(text))


def _replace(match: re.Match[str]) -> str:
    word, reading = match.group(1), match.group(2).upper()
    if is_kana(reading):
        return f" {reading} "
    marker = PINYIN_MARKER if HAN.search(word) else PHONE_MARKER
    return f"{marker}{reading}{marker}"


def apply_annotations(text: str) -> str:
    """Replace every `<word|reading>` by its reading in the form the GPT was trained on."""
    return PRONUNCIATION_ANNOTATION.sub(_replace, text)
