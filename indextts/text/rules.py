"""The official text front end's rules, as data: patterns, placeholders and replacement tables.

IndexTTS2 was trained on the output of this front end, quirks included, so the rules are kept
exactly: changing one changes what the GPT reads.
"""

from __future__ import annotations

import re

# --- language decision ------------------------------------------------------------------------

HAN = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[a-zA-Z]")
SIMPLE_EMAIL = re.compile(r"^[a-zA-Z0-9]+@[a-zA-Z0-9]+\.[a-zA-Z]+$")

# --- pinyin with tone digits (e.g. "xuan4", "zhong4", "lü4") -----------------------------------
# A syllable is an optional initial plus a final, or one of the standalone syllables; the tone
# digit follows at once (5 = neutral). The match may not start right after an ASCII letter, so
# "beta1" or "voice2" are not pinyin.

PINYIN_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxzcsryw")
PINYIN_FINALS = (
    *"aeiouüv",
    "ai", "ei", "ua", "ui", "uo", "ao", "ou", "ia", "iu", "ie", "ue", "üe", "ve",
    "uan", "uang", "van", "vang", "üan", "üang", "uai",
    "an", "en", "in", "un", "vn", "ang", "eng", "ing", "ong",
    "ian", "iao", "iang", "iong",
)  # fmt: skip
PINYIN_STANDALONE = ("ng", "er")


def _alternation(options: tuple[str, ...]) -> str:
    return "|".join(sorted(options, key=len, reverse=True))


PINYIN_TONE = re.compile(
    rf"(?<![a-z])(?:(?:{_alternation(PINYIN_INITIALS)})?(?:{_alternation(PINYIN_FINALS)})"
    rf"|{_alternation(PINYIN_STANDALONE)})[1-5]",
    re.IGNORECASE,
)

# j/q/x followed by u or ü is written with "v" in the GPT's vocabulary ("ju4" → "JV4").
JQX_U = re.compile(r"([jqx])[uü]((?:an|n|e)?)([1-5])", re.IGNORECASE)

# --- spans protected from the normaliser --------------------------------------------------------

# Transliterated names joined by "·", "-" or "—" (克里斯托弗·诺兰, 约瑟夫·高登-莱维特).
PERSON_NAME = re.compile(r"[\u4e00-\u9fff]+(?:[-·—][\u4e00-\u9fff]+){1,2}")

# Hyphenated technical terms (GPT-5-nano, F5-TTS). Must start with a letter so that phone
# numbers such as 135-4567-8900 are still read by the normaliser.
TECH_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+")
TECH_HYPHEN = "<H>"
TECH_HYPHEN_RESTORE = re.compile(r"\s*<H>\s*")

# Pronunciation annotations "<word|reading>" pass through untouched.
PRONUNCIATION_ANNOTATION = re.compile(r"<([^|>\n]+)\|([^>\n]+)>")

# "what's" → "what is" for a few common words. There is no word boundary before the word, so
# "bit's" also becomes "bit is": kept as upstream has it.
ENGLISH_CONTRACTION = re.compile(r"(what|where|who|which|how|t?here|it|s?he|that|this)'s", re.IGNORECASE)

# --- punctuation after normalisation ------------------------------------------------------------
# Applied in one left-to-right scan; at each position the first key in this order that matches
# wins, so "，，，" never becomes "…" (the single "，" matches first).

PUNCTUATION_MAP: dict[str, str] = {
    "：": ",", "；": ",", ";": ",", "，": ",", "。": ".", "！": "!", "？": "?",
    "\n": " ", "·": "-", "、": ",",
    "...": "…", ",,,": "…", "，，，": "…", "……": "…",
    "“": "'", "”": "'", '"': "'", "‘": "'", "’": "'",
    "（": "'", "）": "'", "(": "'", ")": "'",
    "《": "'", "》": "'", "【": "'", "】": "'", "[": "'", "]": "'",
    "—": "-", "～": "-", "~": "-", "「": "'", "」": "'", ":": ",",
}  # fmt: skip
# The Chinese branch also reads "$" as a pause.
CHINESE_PUNCTUATION_MAP: dict[str, str] = {"$": ".", **PUNCTUATION_MAP}


def _scanner(table: dict[str, str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(key) for key in table))


PUNCTUATION_SCAN = _scanner(PUNCTUATION_MAP)
CHINESE_PUNCTUATION_SCAN = _scanner(CHINESE_PUNCTUATION_MAP)


def replace_punctuation(text: str, chinese: bool) -> str:
    table, scan = (
        (CHINESE_PUNCTUATION_MAP, CHINESE_PUNCTUATION_SCAN) if chinese else (PUNCTUATION_MAP, PUNCTUATION_SCAN)
    )
    return scan.sub(lambda m: table[m.group()], text)


# --- the GPT's text space -------------------------------------------------------------------------
# Every CJK character becomes its own word; everything else is upper-cased.

CJK_CHAR = re.compile(
    "([\u1100-\u11ff\u2e80-\ua4cf\ua840-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff65-\uffdc\U00020000-\U0002ffff])"
)


def split_cjk(text: str) -> str:
    """'你好 hello world 的中文' → '你 好 HELLO WORLD 的 中 文'."""
    words = (part.strip() for part in CJK_CHAR.split(text.strip()))
    return " ".join(word.upper() for word in words if word)
