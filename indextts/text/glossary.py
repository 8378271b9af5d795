"""Custom term readings (`glossary.yaml` in the model folder).

Each entry maps a term to one reading for both languages or to a `{zh: …, en: …}` map:

    M.2:
      zh: M 二
      en: M dot two
    NVMe: N V M E
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml

from indextts.errors import ConfigError

GLOSSARY_FILENAME = "glossary.yaml"
Language = Literal["zh", "en"]
Reading = str | dict[str, str]


@dataclass(frozen=True)
class Glossary:
    terms: Mapping[str, Reading] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for term, reading in self.terms.items():
            ok = isinstance(reading, str) or (
                isinstance(reading, dict)
                and set(reading) <= {"zh", "en"}
                and all(isinstance(v, str) for v in reading.values())
            )
            if not term or not ok:
                raise ConfigError(
                    f"glossary term {term!r}: the reading must be a string or a mapping with "
                    f"'zh' and/or 'en' strings, got {reading!r}"
                )

    @classmethod
    def load(cls, path: str | Path) -> Glossary:
        """Read a glossary file; a missing file is an empty glossary."""
        path = Path(path)
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of term → reading, got {type(data).__name__}")
        try:
            return cls({str(term): reading for term, reading in data.items()})
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(
            yaml.safe_dump(dict(self.terms), allow_unicode=True, default_flow_style=False, sort_keys=False),
            encoding="utf-8",
        )

    def with_term(self, term: str, reading: Reading) -> Glossary:
        return Glossary({**self.terms, term: reading})

    def without_term(self, term: str) -> Glossary:
        return Glossary({k: v for k, v in self.terms.items() if k != term})

    @cached_property
    def _longest_first(self) -> list[tuple[re.Pattern[str], str, Reading]]:
        ordered = sorted(self.terms, key=len, reverse=True)
        return [(re.compile(re.escape(term), re.IGNORECASE), term, self.terms[term]) for term in ordered]

    def apply(self, text: str, language: Language) -> str:
        """Replace each term (case-insensitively, longest first) by its reading for `language`.

        A term with readings for the other language only is written as spelled in the glossary.
        """
        for pattern, term, reading in self._longest_first:
            replacement = reading if isinstance(reading, str) else reading.get(language, term)
            text = pattern.sub(lambda _m, r=replacement: r, text)
        return text

    def __bool__(self) -> bool:
        return bool(self.terms)
