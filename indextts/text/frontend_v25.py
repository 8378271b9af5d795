"""The IndexTTS-2.5 text front end: text and language in, token-id segments out.

    text ─ punctuation map (，→, 。→. “→' …; every language)
         ─ normalise: zh/en WeTextProcessing (the 2.0 normaliser, glossary included),
                      es NeMo, ja and ar as written
         ─ case: zh/en/ja lower, es UPPER, ar unchanged
         ─ annotations <word|reading> → marked readings (see annotations.py)
         ─ ja: MeCab word spacing
         ─ special tokens written in the text upper-cased ("<|special_token_1|>" → "<|SPECIAL_TOKEN_1|>")
         ─ cut by token count (segmenter_v25.py; a streaming request's first segment short)
         ─ ids: "<|lang|> " + segment, encoded, id 1 appended (multilingual.py)

The official code chooses no language by itself: the caller names it (its UI defaults to zh);
`detect_language` is this project's guess for requests that name none.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from indextts.config import default_cache_dir
from indextts.errors import TextError
from indextts.text.annotations import apply_annotations
from indextts.text.frontend import TextSegment
from indextts.text.glossary import GLOSSARY_FILENAME, Glossary
from indextts.text.japanese import JapaneseSpacer
from indextts.text.multilingual import VOCAB_FILENAME, MultilingualTokenizer
from indextts.text.nemo import shared_backend as nemo_backend
from indextts.text.normalizer import TextNormalizer
from indextts.text.rules import HAN, PRONUNCIATION_ANNOTATION, replace_punctuation
from indextts.text.segmenter_v25 import split_by_tokens, split_streaming
from indextts.text.spans import SpanLocator
from indextts.text.spans_v25 import segment_pieces, text_pieces

DEFAULT_LANGUAGE = "zh"
WETEXT_LANGUAGES = ("zh", "en")
NEMO_LANGUAGES = ("es",)
LOWER_CASE_LANGUAGES = ("zh", "en", "ja")
UPPER_CASE_LANGUAGES = ("es",)

_SPECIAL_TOKEN_TEXT = re.compile(r"<\|([^|]+)\|>")
_KANA = re.compile(r"[\u3040-\u30ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_SPANISH = re.compile(r"[ñáéíóúü¿¡]", re.IGNORECASE)


def detect_language(text: str) -> str:
    """Kana → ja, else hanzi → zh, else Arabic script → ar, else ñ/accents/¿¡ → es, else en.
    Pronunciation annotations are skipped: their readings are not the text's language."""
    text = PRONUNCIATION_ANNOTATION.sub(lambda m: m.group(1), text)
    for pattern, language in ((_KANA, "ja"), (HAN, "zh"), (_ARABIC, "ar"), (_SPANISH, "es")):
        if pattern.search(text):
            return language
    return "en"


class MultilingualFrontEnd:
    """Normalisers + tokenizer + segmenter of one IndexTTS-2.5 checkpoint. Thread-safe."""

    def __init__(
        self, tokenizer: MultilingualTokenizer, normalizer: TextNormalizer, cache_dir: Path, text_capacity: int
    ) -> None:
        """`text_capacity`: the most text tokens the GPT takes (`gpt.max_text_tokens` in config.yaml)."""
        self.tokenizer = tokenizer
        self.normalizer = normalizer
        self.cache_dir = Path(cache_dir)
        self.text_capacity = text_capacity
        self.japanese = JapaneseSpacer()

    @classmethod
    def from_checkpoint(
        cls,
        model_dir: str | Path,
        tokenizer_file: str = VOCAB_FILENAME,
        max_text_tokens: int = 600,
        cache_dir: Path | None = None,
    ) -> MultilingualFrontEnd:
        """The checkpoint's `.tiktoken` vocabulary (`dataset.bpe_model`), and its `glossary.yaml`
        when there is one; `max_text_tokens` is `gpt.max_text_tokens`. Compiled grammars are kept
        in `cache_dir` (default: the project's cache folder)."""
        model_dir = Path(model_dir)
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        tokenizer = MultilingualTokenizer.from_file(model_dir / tokenizer_file)
        normalizer = TextNormalizer(cache_dir, Glossary.load(model_dir / GLOSSARY_FILENAME))
        return cls(tokenizer, normalizer, cache_dir, max_text_tokens)

    @property
    def languages(self) -> tuple[str, ...]:
        return self.tokenizer.languages

    @staticmethod
    def detect_language(text: str) -> str:
        """A language for a request that names none (this project's rule, not upstream's: the
        official code always takes the language from the caller)."""
        return detect_language(text)

    def load(self, languages: tuple[str, ...] | None = None) -> None:
        """Prepare the normalisers of `languages` (all by default) now rather than on first use."""
        for language in languages or self.languages:
            language = self.tokenizer.check_language(language)
            if language in WETEXT_LANGUAGES:
                self.normalizer.load()
            elif language in NEMO_LANGUAGES:
                nemo_backend(self.cache_dir, language).load()
            elif language == "ja":
                self.japanese.load()

    def prepare(self, text: str, language: str, normalize: bool = True, chinese: bool | None = None) -> str:
        """The text the segmenter cuts (everything before segmentation). `chinese` forces WeText's
        zh/en grammar choice (None: chosen from the text, as officially)."""
        language = self.tokenizer.check_language(language)
        text = replace_punctuation(text, chinese=False)
        if normalize:
            if language in WETEXT_LANGUAGES:
                text = self.normalizer.normalize(text, chinese)
            elif language in NEMO_LANGUAGES:
                text = nemo_backend(self.cache_dir, language).normalize(text)
        if language in LOWER_CASE_LANGUAGES:
            text = text.lower()
        elif language in UPPER_CASE_LANGUAGES:
            text = text.upper()
        text = apply_annotations(text)
        if language == "ja":
            text = self.japanese.space(text)
        return _SPECIAL_TOKEN_TEXT.sub(lambda m: f"<|{m.group(1).upper()}|>", text)

    def split(self, prepared: str, language: str, max_tokens: int, first_segment_tokens: int = 0) -> list[str]:
        """Cut prepared text so that each segment with its language prefix fits `max_tokens`
        and the GPT's text capacity; `first_segment_tokens` > 0 (streaming) makes the first
        segment a clause of at most that many text tokens (`segmenter_v25.split_streaming`)."""
        if max_tokens < 1:
            raise TextError(f"max_text_tokens_per_segment must be at least 1, got {max_tokens}")
        if first_segment_tokens < 0:
            raise TextError(f"first_segment_tokens must be 0 (off) or more, got {first_segment_tokens}")
        prefix_tokens = self.tokenizer.count(self.tokenizer.prefix(language))
        budget = max(1, min(max_tokens, self.text_capacity) - prefix_tokens)
        if first_segment_tokens:
            spaced_words = language == "ja"  # MeCab's spaces are the word ends; a kanji pair is one word
            return split_streaming(prepared, budget, first_segment_tokens, self.tokenizer.count, spaced_words)
        return split_by_tokens(prepared, budget, self.tokenizer.count)

    def segments(
        self,
        text: str,
        language: str,
        max_tokens: int = 120,
        quick_streaming_tokens: int = 0,
        normalize: bool = True,
        first_segment_tokens: int = 0,
    ) -> list[TextSegment]:
        """The segments one request is synthesised in; none for a text that is blank once prepared.

        `quick_streaming_tokens` is accepted for the 2.0 signature; the 2.5 segmenter has no
        such rule (upstream's neither). `first_segment_tokens` > 0: a streaming request's short
        first segment (ours)."""
        del quick_streaming_tokens
        return self._encode(self._cut(text, language, max_tokens, normalize, first_segment_tokens), language)

    def located_segments(
        self,
        text: str,
        language: str,
        max_tokens: int = 120,
        quick_streaming_tokens: int = 0,
        normalize: bool = True,
        first_segment_tokens: int = 0,
    ) -> tuple[list[TextSegment], SpanLocator]:
        """The segments, and where each came from in `text` (found on demand: `indextts.text.spans`;
        a part of the text is verified by running it through this front end in `language`)."""
        del quick_streaming_tokens
        cut = self._cut(text, language, max_tokens, normalize, first_segment_tokens)
        chinese = self.normalizer.reads_chinese(replace_punctuation(text, chinese=False))

        def tokenize(part: str) -> list[str]:  # a part of the text, read as in the whole (same grammar)
            return text_pieces(self.prepare(part, language, normalize, chinese))

        locator = SpanLocator(text, text_pieces("".join(cut)), segment_pieces(cut), tokenize)
        return self._encode(cut, language), locator

    def _cut(self, text: str, language: str, max_tokens: int, normalize: bool, first_segment_tokens: int) -> list[str]:
        prepared = self.prepare(text, language, normalize)
        return self.split(prepared, language, max_tokens, first_segment_tokens) if not _is_blank(prepared) else []

    def _encode(self, cut: list[str], language: str) -> list[TextSegment]:
        return [TextSegment((segment,), tuple(self.tokenizer.encode_segment(segment, language))) for segment in cut]


def _is_blank(text: str) -> bool:
    """Nothing to say: only white space and invisible format characters (zero-width space, BOM …),
    which `str.strip` keeps but no voice can read (IndexTTS-2's front end finds nothing in them either)."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)
