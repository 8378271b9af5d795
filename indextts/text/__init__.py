"""Text front end: normalisation, SentencePiece tokenisation and segmentation (official rules)."""

from indextts.text.frontend import TextFrontEnd, TextSegment
from indextts.text.glossary import Glossary
from indextts.text.normalizer import TextNormalizer, prefers_chinese
from indextts.text.segmenter import DEFAULT_MAX_TOKENS, split_segments
from indextts.text.tokenizer import TextTokenizer

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "Glossary",
    "TextFrontEnd",
    "TextNormalizer",
    "TextSegment",
    "TextTokenizer",
    "prefers_chinese",
    "split_segments",
]
