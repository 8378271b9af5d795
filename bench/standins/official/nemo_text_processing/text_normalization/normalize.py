"""`Normalizer` whose `normalize` returns the text unchanged (see the package docstring)."""

from __future__ import annotations

from typing import Any


class Normalizer:
    def __init__(self, input_case: str = "cased", lang: str = "en", **_options: Any) -> None:
        self.input_case, self.lang = input_case, lang

    def normalize(self, text: str, verbose: bool = False, **_options: Any) -> str:
        return text
