"""PLACEHOLDER until branch issue22text lands: a minimal 2.5 tokenizer and front end.

Delete this file once `indextts.text.multilingual` / `indextts.text.frontend_v25` exist; the engine
imports those first (`indextts.models_v25._frontend`). It implements the agreed interface just far
enough for the model engineer's tests: the official tiktoken file format and special-token order,
byte-level encoding (exact for a vocabulary without merges, as the factory's tiny file), the
official "<|lang|> " prefix and appended stop id, the official casing per language and a
punctuation-aware token budget split. No text normalisation, no pronunciation annotations.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

from indextts.errors import TextError
from indextts.text.frontend import TextSegment

# The official LANGUAGES table's codes in order (row of lang_embedding = position).
LANGUAGE_CODES = (
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
    "hi", "fi", "su", "yue", "minnan", "wuyu", "dialect", "zh/en", "en/zh", "common",
)  # fmt: skip
SUPPORTED = ("zh", "en", "ja", "es")
_AUDIO_EVENTS = (
    "ASR",
    "AED",
    "SER",
    "Speech",
    "/Speech",
    "BGM",
    "/BGM",
    "Laughter",
    "/Laughter",
    "Applause",
    "/Applause",
)
_EMOTIONS = ("HAPPY", "SAD", "ANGRY", "NEUTRAL")
_TTS = ("TTS/B", "TTS/O", "TTS/Q", "TTS/A", "TTS/CO", "TTS/CL", "TTS/H", *(f"TTS/SP{i:02d}" for i in range(1, 14)))


def official_specials() -> list[str]:
    """Special tokens in the order the official `get_encoding` appends them after the ranks."""
    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in LANGUAGE_CODES),
        *(f"<|{e}|>" for e in _AUDIO_EVENTS),
        *(f"<|{e}|>" for e in _EMOTIONS),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
        *(f"<|SPECIAL_TOKEN_{i}|>" for i in range(1, 31)),
        *(f"<|{t}|>" for t in _TTS),
        *(f"<|{i * 0.02:.2f}|>" for i in range(1501)),
    ]


def write_multilingual_tokenizer(path: Path, size: str = "tiny") -> int:
    """A tiktoken rank file of the 256 single bytes (no merges); returns the vocabulary size with specials."""
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 256 + len(official_specials())


class MultilingualTokenizer:
    def __init__(self, ranks: dict[bytes, int]) -> None:
        self.ranks = ranks
        self.specials = {token: len(ranks) + i for i, token in enumerate(official_specials())}
        self._special_re = re.compile("|".join(re.escape(t) for t in sorted(self.specials, key=len, reverse=True)))

    @classmethod
    def from_file(cls, path: str | Path) -> MultilingualTokenizer:
        ranks = {}
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        if any(len(token) > 1 for token in ranks):
            raise TextError(f"{path}: the placeholder tokenizer reads only merge-free vocabularies")
        return cls(ranks)

    @property
    def vocab_size(self) -> int:
        return len(self.ranks) + len(self.specials)

    @property
    def languages(self) -> tuple[str, ...]:
        return SUPPORTED

    def language_index(self, language: str) -> int:
        code = language.lower()
        return LANGUAGE_CODES.index(code if code in LANGUAGE_CODES else "common")

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        at = 0
        for match in self._special_re.finditer(text):
            ids += [self.ranks[bytes([b])] for b in text[at : match.start()].encode("utf-8")]
            ids.append(self.specials[match.group(0)])
            at = match.end()
        return ids + [self.ranks[bytes([b])] for b in text[at:].encode("utf-8")]

    def encode_segment(self, text: str, language: str) -> list[int]:
        """Official ids of one segment: encode("<|lang|> " + text) + [1] (the GPT drops ids 0/1)."""
        return [*self.encode(f"<|{language.lower()}|> " + text), 1]


def detect_language(text: str) -> str:
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\u4e00-\u9fff]", text):
        return "zh"
    if re.search(r"[ñáéíóúü¿¡]", text.lower()):
        return "es"
    return "en"


@dataclass
class MultilingualFrontEnd:
    tokenizer: MultilingualTokenizer
    capacity: int  # text positions of the GPT (max_text_tokens + 2)

    @classmethod
    def from_checkpoint(cls, model_dir: Path, tokenizer_file: str, max_text_tokens: int) -> MultilingualFrontEnd:
        return cls(MultilingualTokenizer.from_file(Path(model_dir) / tokenizer_file), max_text_tokens + 2)

    @property
    def languages(self) -> tuple[str, ...]:
        return self.tokenizer.languages

    def detect_language(self, text: str) -> str:
        return detect_language(text)

    def segments(
        self, text: str, language: str, max_tokens: int = 120, quick_streaming_tokens: int = 0
    ) -> list[TextSegment]:
        language = language.lower()
        text = text.upper() if language == "es" else text.lower()
        text = " ".join(text.split())
        if not text:
            return []
        prefix = len(self.tokenizer.encode(f"<|{language}|> "))
        budget = max(1, min(max_tokens, self.capacity - 2) - prefix)
        pieces = [p for p in re.split(r"(?<=[，。！？、；：,.!?;:\n])", text) if p.strip()]
        segments, current = [], ""
        for piece in pieces:
            if current and len(self.tokenizer.encode(current + piece)) > budget:
                segments.append(current)
                current = piece
            else:
                current += piece
        if current:
            segments.append(current)
        return [
            TextSegment((seg.strip(),), tuple(self.tokenizer.encode_segment(seg.strip(), language))) for seg in segments
        ]
