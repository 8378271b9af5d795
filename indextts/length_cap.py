"""A per-segment limit on generated codes derived from the segment's text: for checkpoints that
never say "stop".

The official GPT ends a segment by emitting its stop code. A random-weight demo checkpoint never
does, so without a limit every segment runs to `max_mel_tokens` (1500 codes ≈ 30 s of noise) and a
one-line sentence takes minutes on a CPU. `SpeechLengthCap` gives each segment the length the real
model would typically need for its text, so the demo answers in seconds. A real checkpoint is
built without one and keeps the official behaviour exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from indextts.gpt.generation import GenerationSettings

CODES_PER_SECOND = 50  # IndexTTS-2's semantic codes (one per 20 ms of speech)
CODES_PER_SECOND_25 = 25  # IndexTTS-2.5's (one per 40 ms; its codec doubles them before s2mel)


@dataclass(frozen=True)
class SpeechLengthCap:
    """max codes for a segment = clamp(codes_per_text_token × its text tokens, min_codes, max_codes).

    12 codes per text token is 0.24 s of speech per token: about one Chinese character (≈ 4 per
    second read aloud) or two thirds of an English word (≈ 2.7 words per second, ≈ 1.3 tokens per
    word with the official BPE), the pace of the official model's output on its own examples.
    """

    codes_per_text_token: float = 12.0
    min_codes: int = 50  # 1 s: even "好。" gets a sound of its own
    max_codes: int = 600  # 12 s: a full 120-token segment of the demo stays short

    def __post_init__(self) -> None:
        if self.codes_per_text_token <= 0 or not 1 <= self.min_codes <= self.max_codes:
            raise ValueError(f"invalid speech length cap {self}")

    def codes_for(self, text_tokens: int) -> int:
        """The most codes a segment of `text_tokens` text tokens may generate."""
        return min(self.max_codes, max(self.min_codes, round(self.codes_per_text_token * text_tokens)))

    def settings_for(self, settings: GenerationSettings, text_tokens: int) -> GenerationSettings:
        """`settings` with max_mel_tokens lowered to this segment's cap (never raised)."""
        limit = min(settings.max_mel_tokens, self.codes_for(text_tokens))
        return settings if limit == settings.max_mel_tokens else replace(settings, max_mel_tokens=limit)


DEMO_SPEECH_LENGTH = SpeechLengthCap()
# IndexTTS-2.5 makes codes at 25 Hz: half as many per second of speech, same seconds per text token.
DEMO_SPEECH_LENGTH_25 = SpeechLengthCap(codes_per_text_token=6.0, min_codes=25, max_codes=300)


def demo_speech_length(generation: str) -> SpeechLengthCap:
    """The demo checkpoint's cap for a model of this generation ("2" or "2.5")."""
    return DEMO_SPEECH_LENGTH_25 if generation == "2.5" else DEMO_SPEECH_LENGTH
