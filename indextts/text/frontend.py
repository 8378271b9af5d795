"""The text front end as the pipeline uses it: text in, token-id segments out."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from indextts.config import ModelConfig
from indextts.text.glossary import GLOSSARY_FILENAME, Glossary
from indextts.text.normalizer import TextNormalizer, prefers_chinese
from indextts.text.segmenter import DEFAULT_MAX_TOKENS, segment_text, split_segments
from indextts.text.spans import SpanLocator
from indextts.text.tokenizer import TextTokenizer


@dataclass(frozen=True)
class TextSegment:
    """One GPT call's worth of text."""

    pieces: tuple[str, ...]
    ids: tuple[int, ...]

    @property
    def text(self) -> str:
        return segment_text(self.pieces)

    def __len__(self) -> int:
        return len(self.pieces)


class TextFrontEnd:
    """Normaliser + tokenizer + segmenter of one checkpoint."""

    def __init__(self, tokenizer: TextTokenizer) -> None:
        self.tokenizer = tokenizer
        # The UI's live preview segments text while a synthesis does the same on the worker
        # thread; the normaliser's grammars are not documented as thread-safe.
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(cls, model_dir: str | Path, config: ModelConfig, cache_dir: Path) -> TextFrontEnd:
        """The checkpoint's `bpe.model`, and its `glossary.yaml` when there is one."""
        model_dir = Path(model_dir)
        glossary = Glossary.load(model_dir / GLOSSARY_FILENAME)
        normalizer = TextNormalizer(cache_dir, glossary)
        return cls(TextTokenizer(model_dir / config.dataset.bpe_model, normalizer))

    @property
    def normalizer(self) -> TextNormalizer:
        assert self.tokenizer.normalizer is not None
        return self.tokenizer.normalizer

    def segments(
        self,
        text: str,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        quick_streaming_tokens: int = 0,
        first_segment_tokens: int = 0,
    ) -> list[TextSegment]:
        """The text's segments (see `split_segments`)."""
        return self.located_segments(text, max_tokens, quick_streaming_tokens, first_segment_tokens)[0]

    def located_segments(
        self,
        text: str,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        quick_streaming_tokens: int = 0,
        first_segment_tokens: int = 0,
    ) -> tuple[list[TextSegment], SpanLocator]:
        """The segments, and where each came from in `text` (found on demand: `indextts.text.spans`)."""
        with self._lock:
            pieces = self.tokenizer.tokenize(text)
        cut = split_segments(pieces, max_tokens, quick_streaming_tokens, first_segment_tokens)
        chinese = prefers_chinese(text)

        def tokenize(part: str) -> list[str]:  # a part of the text, read in the language of the whole
            with self._lock:
                return self.tokenizer.tokenize(part, chinese)

        segments = [TextSegment(tuple(segment), tuple(self.tokenizer.to_ids(segment))) for segment in cut]
        return segments, SpanLocator(text, pieces, cut, tokenize)
