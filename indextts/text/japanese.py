"""Japanese word spacing for the IndexTTS-2.5 front end: MeCab (fugashi + UniDic-lite) words
joined by single spaces; spaces already in the text stay as they are.

The official processor can also swap a share of kanji words for their hiragana reading (a
training augmentation); inference sets that share to 0, so only the spacing remains.
"""

from __future__ import annotations

import re
import threading

from indextts.errors import TextNormalizerUnavailable

_SPACES = re.compile(r"( +)")


class JapaneseSpacer:
    """Loaded on first use; safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tagger = None

    def load(self) -> None:
        with self._lock:
            if self._tagger is not None:
                return
            try:
                import fugashi

                self._tagger = fugashi.Tagger()  # picks the installed UniDic (unidic-lite)
            except (ImportError, RuntimeError) as exc:
                raise TextNormalizerUnavailable(
                    f"Japanese text needs fugashi and a UniDic dictionary: pip install fugashi unidic-lite ({exc})"
                ) from exc

    def space(self, text: str) -> str:
        """'今日はいい天気' → '今日 は いい 天気'."""
        self.load()
        parts = _SPACES.split(text)  # odd places: runs of spaces, kept verbatim
        with self._lock:  # MeCab taggers are not documented as thread-safe
            return "".join(
                " ".join(word.surface for word in self._tagger(part)) if part.strip() else part for part in parts
            )
