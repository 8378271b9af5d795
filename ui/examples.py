"""`examples/cases.jsonl` (the official format) as rows for the UI's example table."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from serving.request import EMOTION_COUNT, EmotionMode
from ui.i18n import text

log = logging.getLogger(__name__)

MODES_BY_NUMBER = [EmotionMode.NONE, EmotionMode.AUDIO, EmotionMode.VECTOR, EmotionMode.TEXT]


@dataclass(frozen=True)
class ExampleCase:
    prompt_audio: str
    text: str
    emo_mode: EmotionMode
    emo_audio: str | None
    emo_weight: float
    emo_vector: tuple[float, ...]
    emo_text: str

    def label(self, lang: str) -> str:
        """What the example button shows: the voice file, the emotion mode (in `lang`), the start of the text."""
        head = self.text if len(self.text) <= 36 else self.text[:36] + "…"
        return f"{Path(self.prompt_audio).stem} · {text(f'mode_short_{self.emo_mode.value}', lang)} · {head}"

    def row(self) -> list[object]:
        """Values in the order of the UI's example inputs."""
        return [
            self.prompt_audio,
            self.text,
            self.emo_mode.value,
            self.emo_audio,
            self.emo_weight,
            *self.emo_vector,
            self.emo_text,
        ]


def load_cases(path: Path) -> list[ExampleCase]:
    """Every usable line of the file; a broken line is logged and skipped, never fatal for the UI."""
    if not path.is_file():
        return []
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            emo_audio = data.get("emo_audio")
            cases.append(
                ExampleCase(
                    prompt_audio=str(path.parent / data["prompt_audio"]),
                    text=data["text"],
                    emo_mode=MODES_BY_NUMBER[int(data.get("emo_mode", 0))],
                    emo_audio=str(path.parent / emo_audio) if emo_audio else None,
                    emo_weight=float(data.get("emo_weight", 1.0)),
                    emo_vector=tuple(float(data.get(f"emo_vec_{i}", 0.0)) for i in range(1, EMOTION_COUNT + 1)),
                    emo_text=data.get("emo_text") or "",
                )
            )
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            log.warning("%s line %d skipped: %s", path, number, exc)
    return cases
