"""Named voices for the OpenAI-compatible API: a JSON file maps each name to a prompt recording.

`examples/voices.json` maps the eleven OpenAI voice names to `examples/voice_01.wav` …
`voice_11.wav`; users add their own entries (`"name": {"file", "name", "language"}`), with files
relative to the JSON file or anywhere inside the node's allowed folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VOICES_FILE = Path(__file__).resolve().parent.parent / "examples" / "voices.json"


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    language: str
    file: Path


class VoiceCatalog:
    def __init__(self, voices: dict[str, Voice]) -> None:
        self._voices = voices

    @classmethod
    def load(cls, path: Path = DEFAULT_VOICES_FILE) -> VoiceCatalog:
        """Read the mapping; a broken file is an error that names it (the node should not start half-configured)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["voices"]
            voices = {
                voice_id.lower(): Voice(
                    id=voice_id.lower(),
                    name=str(entry.get("name", voice_id)),
                    language=str(entry.get("language", "")),
                    file=(path.parent / entry["file"]).resolve(),
                )
                for voice_id, entry in entries.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a valid voices file ({exc}); see serving/voices.py for the format") from exc
        return cls(voices)

    def get(self, voice_id: str) -> Voice | None:
        return self._voices.get(voice_id.strip().lower())

    def all(self) -> list[Voice]:
        return list(self._voices.values())

    def names(self) -> list[str]:
        return list(self._voices)
