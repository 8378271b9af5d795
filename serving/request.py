"""`SynthesisRequest`: the one request model every front door translates its wire format into.

Ranges and defaults follow the official IndexTTS2 web UI (§12 of the architecture notes), so a
request built from its sliders and one sent by a program mean the same thing. Audio fields hold
what the client sent (a path, URL, hex, base64 or uploaded bytes); `serving.sources` turns them
into checked audio before the job is queued.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_TEXT_CHARS = 10_000  # about ten minutes of speech; longer texts belong in several requests
EMOTION_COUNT = 8
EMOTION_NAMES = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")

# Numbers must be JSON numbers: `true` or "0.8" is refused, not read as 1 or 0.8 (one rule for
# every front door). Integral floats such as 30.0 still fill an int field; 30.5 does not.
NUMBER_FIELDS = (
    "emo_alpha",
    "emo_vector",
    "interval_silence",
    "max_text_tokens_per_segment",
    "top_p",
    "top_k",
    "temperature",
    "num_beams",
    "repetition_penalty",
    "length_penalty",
    "max_mel_tokens",
    "seed",
    "duration_factor",
)
StrictBool = Annotated[bool, Strict()]  # true/false only, not 1, "yes" or "false"

AudioInput = Annotated[
    str | bytes,
    Field(description="A path inside the allowed folders, an http(s) URL, a hex or base64 string, or raw bytes."),
]


class EmotionMode(str, Enum):
    """The official UI's four emotion controls."""

    NONE = "none"  # same as the speaker prompt
    AUDIO = "audio"  # an emotion reference recording blended in with weight emo_alpha
    VECTOR = "vector"  # eight emotion weights
    TEXT = "text"  # emotion weights read from a text by the emotion model


class SynthesisRequest(BaseModel):
    """Everything one synthesis needs. Unknown fields are refused so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False, validate_default=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The text to speak.")
    spk_audio: AudioInput
    emo_mode: EmotionMode = EmotionMode.NONE
    emo_audio: AudioInput | None = None
    emo_alpha: float = Field(0.65, ge=0.0, le=1.0, description="Emotion strength (audio, vector and text modes).")
    emo_vector: list[float] | None = Field(
        None, description="Eight weights in [0, 1]: " + ", ".join(EMOTION_NAMES) + "."
    )
    normalize_emo_vector: StrictBool = Field(
        True, description="Apply the official UI's bias and cap the sum at 0.8 (vector mode), as its sliders do."
    )
    emo_text: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="Text mode; empty = the main text.")
    use_random: StrictBool = Field(
        False, description="Random emotion prototypes instead of the nearest to the speaker."
    )
    interval_silence: int = Field(200, ge=0, le=5000, description="Silence between segments, in ms.")
    max_text_tokens_per_segment: int = Field(120, ge=20, le=600)
    do_sample: StrictBool = True
    top_p: float = Field(0.8, ge=0.0, le=1.0)
    top_k: int = Field(30, ge=0, le=100, description="0 disables top-k.")
    temperature: float = Field(0.8, ge=0.1, le=2.0)
    num_beams: int = Field(3, ge=1, le=10)
    repetition_penalty: float = Field(10.0, ge=0.1, le=20.0)
    length_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    max_mel_tokens: int = Field(1500, ge=50, le=1815)
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Makes sampling reproducible.")
    language: str | None = Field(
        None,
        max_length=16,
        description="IndexTTS-2.5: the text's language (zh, en, ja, es); none or 'auto' = detected from the text. "
        "IndexTTS-2 reads Chinese and English by itself and refuses other values.",
    )
    duration_factor: float = Field(
        1.0, ge=0.5, le=2.0, description="IndexTTS-2.5: scales the speech length (0.5 faster … 2.0 slower)."
    )
    streaming: StrictBool = Field(
        False,
        description="Set by streaming front doors: a short first segment and audio in chunks as it is made.",
    )

    @field_validator(*NUMBER_FIELDS, mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "emo_vector" and not isinstance(value, list):
            return value  # pydantic's own "should be a valid list"
        return numbers_only(value)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the text is blank; type something to say")
        return text

    @field_validator("emo_vector")
    @classmethod
    def _eight_weights(cls, vector: list[float] | None) -> list[float] | None:
        if vector is None:
            return None
        if len(vector) != EMOTION_COUNT:
            raise ValueError(f"needs exactly {EMOTION_COUNT} weights ({', '.join(EMOTION_NAMES)}), got {len(vector)}")
        for name, value in zip(EMOTION_NAMES, vector, strict=True):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is {value}; each weight must be between 0 and 1")
        return vector

    @field_validator("language")
    @classmethod
    def _language_code(cls, language: str | None) -> str | None:
        if language is None or not language.strip() or language.strip().lower() == "auto":
            return None
        return language.strip().lower()

    @field_validator("emo_text")
    @classmethod
    def _empty_emo_text_is_none(cls, text: str | None) -> str | None:
        return text if text and text.strip() else None

    @model_validator(mode="after")
    def _mode_has_its_inputs(self) -> SynthesisRequest:
        if self.emo_mode is EmotionMode.AUDIO and self.emo_audio is None:
            raise ValueError("emo_audio: emotion mode 'audio' needs an emotion reference recording")
        if self.emo_mode is EmotionMode.VECTOR and (self.emo_vector is None or sum(self.emo_vector) == 0):
            raise ValueError("emo_vector: emotion mode 'vector' needs at least one weight above 0")
        return self

    def emotion_weights(self) -> list[float] | None:
        """The eight weights the engine receives in vector mode (after the UI rule when asked)."""
        if self.emo_mode is not EmotionMode.VECTOR or self.emo_vector is None:
            return None
        if not self.normalize_emo_vector:
            return list(self.emo_vector)
        from indextts.emotion.vectors import normalize_emotion_weights

        return normalize_emotion_weights(self.emo_vector)

    def generation_kwargs(self) -> dict[str, Any]:
        """The sampling settings as `IndexTTS2.infer` keyword arguments (top_k 0 = off, as in the UI)."""
        return {
            "do_sample": self.do_sample,
            "top_p": self.top_p,
            "top_k": self.top_k or None,
            "temperature": self.temperature,
            "num_beams": self.num_beams,
            "repetition_penalty": self.repetition_penalty,
            "length_penalty": self.length_penalty,
            "max_mel_tokens": self.max_mel_tokens,
        }

    def summary(self) -> str:
        """One log line: what was asked, without the audio payloads."""
        head = self.text[:40].replace("\n", " ")
        return f"{len(self.text)} chars '{head}{'…' if len(self.text) > 40 else ''}', emotion {self.emo_mode.value}"


def numbers_only(value: Any) -> Any:
    """A pydantic before-check: None, a number or a list of numbers pass; true, "0.8" and the like do not."""
    for item in value if isinstance(value, list) else [value]:
        if item is not None and (isinstance(item, bool) or not isinstance(item, (int, float))):
            raise ValueError(f"must be a number, not {_json_kind(item)}")
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


class RequestError(ValueError):
    """A request that failed validation; `problems` holds one (field, message) pair per violation."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))

    @property
    def field(self) -> str:
        return self.problems[0][0]


def _field_range(field: str) -> str | None:
    info = SynthesisRequest.model_fields.get(field)
    if info is None:
        return None
    low = high = None
    for constraint in info.metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if low is None or high is None:
        return None
    return f"{low}–{high}"


def describe_error(error: dict[str, Any]) -> tuple[str, str]:
    """(field, message) for one pydantic error, worded the same on every front door."""
    location = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    field = location[0] if location else ""
    if not field and ": " in message:  # model-level checks name their field first
        field, message = message.split(": ", 1)
    allowed = _field_range(field)
    kind = error.get("type", "")
    if allowed and kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        message = f"{error.get('input')!r} is out of range; allowed range {allowed}"
    elif kind == "extra_forbidden":
        message = "unknown field; check its spelling"
    elif kind == "missing":
        message = "this field is required"
    elif kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        message = f"too long ({len(str(error.get('input', '')))} characters); the limit is {limit}"
    elif kind == "string_too_short":
        message = "must not be empty"
    return field or "request", message


def parse_request(data: dict[str, Any]) -> SynthesisRequest:
    """Validate a plain dict; every violation is reported with its field and what is allowed."""
    try:
        return SynthesisRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestError([describe_error(error) for error in exc.errors(include_url=False)]) from None
