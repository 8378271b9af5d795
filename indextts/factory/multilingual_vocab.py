"""A synthetic IndexTTS-2.5 vocabulary (`.tiktoken`) for factory checkpoints.

The real file's tokens are not known here; what the code depends on is: the file format, the
number of ranks (which fixes every special token's id), ranks 0 and 1 being `!` and `"` (the GPT
input path drops ids 0 and 1), and every byte having a rank (so any text encodes). This writer
keeps all of that and fills the rest with tokens that make text short: one token per hanzi and
kana (the demo corpus's hanzi first), accented Latin letters, and space-led words of the demo
corpus. Each multi-byte token comes
after all of its prefixes, so BPE merges can reach it.

    full: 58 836 ranks + 1673 special tokens = 60 509 ids = `number_text_tokens` of the official
          config (text embedding 60 510 rows);
    tiny: 2423 ranks + 1673 special tokens = 4096 ids.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Literal

from indextts.factory.tokenizer import _gb2312_hanzi
from indextts.text.multilingual import special_tokens

VocabSize = Literal["tiny", "full"]

NUMBER_TEXT_TOKENS: dict[str, int] = {"tiny": 4096, "full": 60509}


def rank_count(size: VocabSize) -> int:
    """Ranks in the file: the vocabulary minus the special tokens appended after them."""
    if size not in NUMBER_TEXT_TOKENS:
        raise ValueError(f"size must be one of {', '.join(NUMBER_TEXT_TOKENS)}, not {size!r}")
    return NUMBER_TEXT_TOKENS[size] - len(special_tokens())


def byte_level_order() -> list[int]:
    """GPT-2's order of the 256 single bytes: printable ones first (so rank 0 is `!`, 1 is `"`)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    return printable + [b for b in range(256) if b not in set(printable)]


def _corpus_lines() -> list[str]:
    text = (resources.files("indextts.data") / "demo_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _corpus_words() -> list[str]:
    words = (word for line in _corpus_lines() for word in re.findall(r"[^\W\d_]+", line) if word.isascii())
    return list(dict.fromkeys(words))


def _corpus_hanzi() -> list[str]:
    return list(dict.fromkeys(char for line in _corpus_lines() for char in line if "\u4e00" <= char <= "\u9fff"))


def _candidates(size: VocabSize) -> Iterator[str]:
    """Tokens in the order they get ranks (before prefix expansion)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    accented = "áéíóúüñ"
    for letter in letters + letters.upper() + accented + accented.upper():
        yield letter
        yield " " + letter
    yield from ("¿", "¡", " ¿", " ¡")
    for word in _corpus_words():
        for form in (word.lower(), word.upper()):
            yield " " + form
    yield from (chr(c) for c in range(0x3041, 0x3097))  # hiragana
    yield from (chr(c) for c in range(0x30A1, 0x30FB))  # katakana
    yield "ー"
    yield from _corpus_hanzi()  # first, so that the tiny vocabulary has them too
    yield from _gb2312_hanzi()
    if size == "full":
        yield from (chr(c) for c in range(0x4E00, 0xA000))  # the rest of the CJK block
        yield from (chr(c) for c in range(0xAC00, 0xD7A4))  # hangul syllables
        yield from (chr(c) for c in range(0x3400, 0x4DC0))  # CJK extension A
        for pair in product(letters, repeat=2):
            yield " " + "".join(pair)
        for triple in product(letters, repeat=3):
            yield " " + "".join(triple)


def _with_prefixes(tokens: Iterable[str]) -> Iterator[bytes]:
    for token in tokens:
        data = token.encode("utf-8")
        for end in range(2, len(data) + 1):
            yield data[:end]


def synthetic_ranks(size: VocabSize) -> list[bytes]:
    """The tokens of the synthetic vocabulary, rank order."""
    wanted = rank_count(size)
    ranks = dict.fromkeys(bytes([b]) for b in byte_level_order())
    for token in _with_prefixes(_candidates(size)):
        if len(ranks) == wanted:
            break
        ranks.setdefault(token)
    if len(ranks) != wanted:
        raise AssertionError(f"the synthetic {size} vocabulary has {len(ranks)} tokens, not {wanted}")
    return list(ranks)


def write_multilingual_tokenizer(path: str | Path, size: VocabSize = "tiny") -> Path:
    """Write a `.tiktoken` file in the official format (one `base64(token) rank` per line)."""
    path = Path(path)
    lines = (f"{base64.b64encode(token).decode('ascii')} {rank}\n" for rank, token in enumerate(synthetic_ranks(size)))
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".partial")
    scratch.write_text("".join(lines), encoding="utf-8")
    os.replace(scratch, path)  # never a half-written vocabulary under the real name
    return path
