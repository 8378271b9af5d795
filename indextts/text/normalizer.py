"""Text normalisation for Chinese, English and mixed text, as the official front end does it.

    text ─ protect "<word|reading>" ─ pick language ─┬─ zh: "'s"→" is", glossary, protect tech terms,
                                                     │      pinyin and names, WeText zh, restore,
                                                     │      punctuation (with "$"→".")
                                                     └─ en: "'s"→" is", glossary, protect tech terms,
                                                            WeText en, restore, punctuation
    ─ restore annotations ─ normalised text

Protected spans are swapped for placeholders the normaliser leaves alone, then put back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indextts.text import rules
from indextts.text.glossary import Glossary, Language
from indextts.text.wetext import shared_backend

log = logging.getLogger(__name__)


def _letters(index: int) -> str:
    """0 → 'a', 25 → 'z', 26 → 'aa', … (placeholders must stay letters-only)."""
    name = ""
    while True:
        name = chr(ord("a") + index % 26) + name
        index = index // 26 - 1
        if index < 0:
            return name


@dataclass
class _Protected:
    """Spans swapped out of the text, and how to swap them back."""

    originals: dict[str, str] = field(default_factory=dict)  # placeholder → original

    def restore(self, text: str, rewrite: Callable[[str], str] = lambda s: s) -> str:
        for placeholder, original in self.originals.items():
            text = text.replace(placeholder, rewrite(original))
        return text


def _protect_spans(text: str, pattern: re.Pattern[str], placeholder: Callable[[str], str]) -> tuple[str, _Protected]:
    """Replace every distinct match of `pattern` by a placeholder; longest matches first so that
    a match inside a longer one cannot break it apart."""
    found = sorted({m.group() for m in pattern.finditer(text)}, key=lambda s: (-len(s), s))
    protected = _Protected()
    for index, span in enumerate(found):
        key = placeholder(_letters(index))
        protected.originals[key] = span
        text = text.replace(span, key)
    return text, protected


def _protect_annotations(text: str) -> tuple[str, _Protected]:
    protected = _Protected()

    def swap(match: re.Match[str]) -> str:
        key = f"PRONPLACEHOLDER{_letters(len(protected.originals))}PRONPLACEHOLDER"
        protected.originals[key] = match.group()
        return key

    return rules.PRONUNCIATION_ANNOTATION.sub(swap, text), protected


def _protect_tech_terms(text: str) -> tuple[str, bool]:
    """'GPT-5-nano' → 'GPT<H>5<H>nano': the digits are still read, the hyphens are not minus signs."""
    terms = sorted(set(rules.TECH_TERM.findall(text)), key=len, reverse=True)
    for term in terms:
        text = text.replace(term, term.replace("-", rules.TECH_HYPHEN))
    return text, bool(terms)


def _restore_tech_terms(text: str) -> str:
    return rules.TECH_HYPHEN_RESTORE.sub("-", text)


def spell_pinyin(syllable: str) -> str:
    """The vocabulary's spelling of a toned syllable: j/q/x + u/ü use 'v' and are upper-cased."""
    if syllable[0] not in "jqxJQX":
        return syllable
    return rules.JQX_U.sub(r"\1v\2\3", syllable).upper()


def prefers_chinese(text: str) -> bool:
    """The official language decision: Chinese unless the text has Latin letters and no Han
    characters, no toned pinyin, and is not a bare e-mail address."""
    if rules.HAN.search(text) or not rules.ASCII_LETTER.search(text) or rules.SIMPLE_EMAIL.match(text):
        return True
    return bool(rules.PINYIN_TONE.search(text))


class TextNormalizer:
    """Normalises text into what the GPT was trained to read. Thread-safe."""

    def __init__(self, cache_dir: Path, glossary: Glossary | None = None) -> None:
        self.backend = shared_backend(Path(cache_dir))
        self.glossary = glossary or Glossary()

    def load(self) -> None:
        """Prepare the normaliser grammars (compiled once per machine, then cached)."""
        self.backend.load()

    @staticmethod
    def reads_chinese(text: str) -> bool:
        """The language decision `normalize` makes for `text` when not told (annotations aside)."""
        return prefers_chinese(_protect_annotations(text)[0])

    def normalize(self, text: str, chinese: bool | None = None) -> str:
        """`chinese` forces the language decision (None: `prefers_chinese` of the text)."""
        text, annotations = _protect_annotations(text)
        chinese = prefers_chinese(text) if chinese is None else chinese  # (= reads_chinese of the text)
        result = self._normalize_chinese(text) if chinese else self._normalize_english(text)
        return annotations.restore(result)

    def _common_start(self, text: str, language: Language) -> str:
        text = rules.ENGLISH_CONTRACTION.sub(r"\1 is", text)
        return self.glossary.apply(text, language) if self.glossary else text

    def _normalize_chinese(self, text: str) -> str:
        text = self._common_start(text, "zh")
        text, has_tech = _protect_tech_terms(text.rstrip())
        text, pinyin = _protect_spans(text, rules.PINYIN_TONE, lambda k: f"<pinyin_{k}>")
        text, names = _protect_spans(text, rules.PERSON_NAME, lambda k: f"<n_{k}>")
        try:
            result = self.backend.chinese(text)
        except Exception:
            # Upstream drops the text when the grammar fails on it; the caller sees "".
            log.warning("Chinese text normalisation failed on %r", text, exc_info=True)
            result = ""
        result = names.restore(result)
        result = pinyin.restore(result, spell_pinyin)
        if has_tech:
            result = _restore_tech_terms(result)
        return rules.replace_punctuation(result, chinese=True)

    def _normalize_english(self, text: str) -> str:
        text = self._common_start(text, "en")
        protected, has_tech = _protect_tech_terms(text)
        try:
            result = self.backend.english(protected)
            if has_tech:
                result = _restore_tech_terms(result)
        except Exception:
            # Upstream keeps the text un-normalised when the grammar fails on it.
            log.warning("English text normalisation failed on %r", text, exc_info=True)
            result = text
        return rules.replace_punctuation(result, chinese=False)
