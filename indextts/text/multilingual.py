"""The IndexTTS-2.5 tokenizer: a byte-level BPE in tiktoken format with Whisper-style special tokens.

The checkpoint ships the mergeable ranks (`multilingual_zh_ja_yue_char_del.tiktoken`, one line
`base64(token) rank` per token); the special tokens are not in the file. They are appended after the
last rank in one fixed order, so their ids depend only on the number of ranks:

    ranks 0 … N-1 │ <|endoftext|> <|startoftranscript|> │ 99 language tokens │ 11 audio events │
    4 emotions │ translate transcribe startoflm startofprev nospeech notimestamps │
    <|SPECIAL_TOKEN_1|> … <|SPECIAL_TOKEN_30|> │ 20 TTS tokens │ 1501 timestamps <|0.00|> … <|30.00|>

What happens where, for one segment (official `infer_v2_5.py` + `gpt/model_v2.py`):

1. here, `encode_segment`: ids of `"<|lang|> " + segment` (special tokens written in the text are
   read as special tokens), then one id 1 appended — exactly what the official code hands the GPT;
2. in the GPT input path (the model's job, not this module's): every id equal to the start (0) or
   stop (1) text token is dropped — including real text tokens 0 and 1, which in a byte-level BPE
   are `!` and `"` — the rest is wrapped in start/stop, and each dropped id becomes a zero
   left-padding row with attention 0; `lang_embedding[language_index]` is added to every text row.
"""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from pathlib import Path

from indextts.errors import CheckpointError, TextError

VOCAB_FILENAME = "multilingual_zh_ja_yue_char_del.tiktoken"

# Whisper's language codes in Whisper's order, then the ones IndexTTS-2.5 adds. The position of a
# code is its row in the GPT's `lang_embedding` (which has one row more than this table).
_WHISPER_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur "
    "hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si "
    "km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha "
    "ba jw su yue"
)
WHISPER_LANGUAGES = tuple(_WHISPER_CODES.split())
LANGUAGE_ROWS = (*WHISPER_LANGUAGES, "minnan", "wuyu", "dialect", "zh/en", "en/zh", "common")
# Only the first 99 codes (Whisper's original set, without "yue") get a special token.
LANGUAGE_TOKEN_COUNT = 99

AUDIO_EVENTS = (
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
EMOTIONS = ("HAPPY", "SAD", "ANGRY", "NEUTRAL")
TASK_TOKENS = ("translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps")
ANNOTATION_TOKEN_COUNT = 30  # <|SPECIAL_TOKEN_1|> … <|SPECIAL_TOKEN_30|>
TTS_TOKENS = (
    "TTS/B",
    "TTS/O",
    "TTS/Q",
    "TTS/A",
    "TTS/CO",
    "TTS/CL",
    "TTS/H",
    *(f"TTS/SP{i:02d}" for i in range(1, 14)),
)
TIMESTAMP_COUNT = 1501  # <|0.00|> … <|30.00|> in steps of 0.02

# GPT-2's pre-tokenisation pattern: contractions, letter runs, digit runs, other symbols, spaces.
PRETOKENIZE_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# The languages the 2.5 front end handles (the official UI offers these five).
SUPPORTED_LANGUAGES = ("zh", "en", "ja", "es", "ar")

# The GPT's start/stop text tokens (`start_text_token` / `stop_text_token` in config.yaml).
START_TEXT_ID = 0
STOP_TEXT_ID = 1


def special_tokens() -> tuple[str, ...]:
    """Every special token, in id order (the first one's id is the number of ranks)."""
    return (
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in LANGUAGE_ROWS[:LANGUAGE_TOKEN_COUNT]),
        *(f"<|{event}|>" for event in AUDIO_EVENTS),
        *(f"<|{emotion}|>" for emotion in EMOTIONS),
        *(f"<|{task}|>" for task in TASK_TOKENS),
        *(f"<|SPECIAL_TOKEN_{i}|>" for i in range(1, ANNOTATION_TOKEN_COUNT + 1)),
        *(f"<|{tts}|>" for tts in TTS_TOKENS),
        *(f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMP_COUNT)),
    )


def read_ranks(path: Path) -> dict[bytes, int]:
    """The mergeable ranks of a `.tiktoken` file; a clear error for anything else."""
    if not path.is_file():
        raise CheckpointError(f"{path}: tokenizer file not found (it ships with the IndexTTS-2.5 checkpoint)")
    ranks: dict[bytes, int] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            try:
                token, rank = fields
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except (ValueError, binascii.Error):
                raise CheckpointError(f"{path}, line {number}: expected 'base64-token rank', got {line!r}") from None
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise CheckpointError(f"{path}: the ranks must be 0 … {len(ranks) - 1} without gaps or repeats")
    return ranks


class MultilingualTokenizer:
    """text → ids with the 2.5 vocabulary; see the module docstring for who does what."""

    languages: tuple[str, ...] = SUPPORTED_LANGUAGES

    def __init__(self, ranks: dict[bytes, int], name: str = VOCAB_FILENAME) -> None:
        self.rank_count = len(ranks)
        # special token → id, in id order
        self.specials = {token: self.rank_count + i for i, token in enumerate(special_tokens())}
        import tiktoken  # here, not at the top: an IndexTTS-2 node (and the factory's 2.0 sizes) never needs it

        self.encoding = tiktoken.Encoding(
            name=name,
            pat_str=PRETOKENIZE_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=self.specials,
            explicit_n_vocab=self.rank_count + len(self.specials),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> MultilingualTokenizer:
        path = Path(path)
        return cls(read_ranks(path), name=path.name)

    @property
    def vocab_size(self) -> int:
        """Ranks plus special tokens: every id is below this (`number_text_tokens` in config.yaml)."""
        return self.encoding.n_vocab

    def special_id(self, token: str) -> int:
        """Id of a special token such as "<|zh|>" or "<|SPECIAL_TOKEN_1|>"."""
        return self.encoding.encode_single_token(token)

    @cached_property
    def annotation_token_ids(self) -> frozenset[int]:
        return frozenset(self.special_id(f"<|SPECIAL_TOKEN_{i}|>") for i in range(1, ANNOTATION_TOKEN_COUNT + 1))

    def encode(self, text: str) -> list[int]:
        """Ids of `text`; special tokens written in it (e.g. "<|SPECIAL_TOKEN_1|>") are read as such."""
        return self.encoding.encode(text, allowed_special="all")

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, ids: list[int] | tuple[int, ...]) -> str:
        return self.encoding.decode(list(ids))

    @staticmethod
    def check_language(language: str) -> str:
        """The lower-cased code of a supported language, or a TextError naming the field."""
        code = language.strip().lower() if isinstance(language, str) else language
        if code not in SUPPORTED_LANGUAGES:
            raise TextError(f"language: {language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}")
        return code

    def prefix(self, language: str) -> str:
        """The text every segment starts with: the language token and a space."""
        return f"<|{self.check_language(language)}|> "

    def encode_segment(self, text: str, language: str) -> list[int]:
        """The ids the official code hands the GPT for one normalised segment: the language
        prefix, the text, and one stop id (1) appended."""
        return [*self.encode(self.prefix(language) + text), STOP_TEXT_ID]

    def language_index(self, language: str) -> int:
        """Row of `lang_embedding` added to every text embedding of a segment."""
        return LANGUAGE_ROWS.index(self.check_language(language))
