"""Emotion from text: the checkpoint's fine-tuned Qwen3 classifier and the parser of its answers.

The model (`qwen0.6bemo4-merge/`, a Qwen3-0.6B fine-tune) is asked, in chat format with the system
prompt "文本情感分类" ("text emotion classification") and thinking disabled, for the emotions of a
sentence. It answers with a short JSON object keyed by the Chinese emotion names, for example
`{"高兴": 0.8, "愤怒": 0.0, …}`. `parse_emotion_output` turns any answer into the 8-value vector of
`labels.EMOTIONS` with the current official rules (spec §8.4), quirks included:

1. JSON first; if the text is not JSON, every `key: number` pair found by a lenient pattern.
2. If the source text mentions melancholy, the 悲伤 (sad) and 低落 (melancholic) values swap —
   upstream's workaround for a model that never answers 低落. This happens *before* step 3,
   so a label answer plus a melancholy word ends as calm, exactly as upstream.
3. Label answers become one-hot: a bare JSON string label, a label under one of LABEL_FIELDS (only
   when no emotion key is present), or an emotion key whose value is itself a label. A label is a
   Chinese key or an English name (case-insensitive), surrounding spaces ignored.
4. Only the Chinese keys count (an English *key* such as "happy" is ignored, as upstream); missing
   → 0.0; a non-numeric value → EmotionOutputError; each value clamped to [0, 1.2]; if nothing is
   above 0 the vector is calm = 1.0.

Where upstream crashes on an answer (a melancholy word with a non-object answer; an unparsable
number), this module gives the result upstream intended or a typed error instead.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import torch

from indextts.emotion.labels import EMOTIONS, EMOTIONS_ZH
from indextts.errors import CheckpointError, EmotionOutputError

SYSTEM_PROMPT = "文本情感分类"
END_THINK_TOKEN = "</think>"  # id 151668 in the real tokenizer; looked up, never hard-coded
QWEN_FOLDER = "qwen0.6bemo4-merge"

# Upstream allows 32768 new tokens; the answer is a JSON object of about 60 tokens, so a cap this
# size never truncates a real answer but stops a degenerate (repeating) generation in seconds.
DEFAULT_MAX_NEW_TOKENS = 512

MIN_SCORE, MAX_SCORE = 0.0, 1.2
LABEL_FIELDS = ("emotion", "emotion_label", "label", "情感", "情绪")
# The reference implementation's list (indextts2-inference 2.1.1, what `make parity` runs): the
# upstream words plus Spanish ones and "nostalgia". Matched as substrings of the lower-cased text.
MELANCHOLIC_WORDS = (
    "低落",
    "melancholy",
    "melancholic",
    "depression",
    "depressed",
    "gloomy",
    "melancolía",
    "melancólico",
    "melancólica",
    "deprimido",
    "deprimida",
    "bajón",
    "nostalgia",
)
SAD, MELANCHOLIC, CALM = "悲伤", "低落", "自然"

# `key: number` in text that is not JSON. The key is a run without whitespace, quotes, colon, dot
# or comma, optionally followed by a closing quote; the number is digits and dots (upstream's rule,
# so `{高兴: 0.5` yields the key "{高兴", and "1.2.3" is a non-numeric score).
_PAIR = re.compile(r'([^\s":.,]+?)"?\s*:\s*([\d.]+)')

_EN_TO_ZH = {en: zh for en, zh in zip(EMOTIONS, EMOTIONS_ZH, strict=True)}


# ---------------------------------------------------------------------------------------------
# parsing


def _read_answer(generated: str) -> Any:
    """JSON value of the answer, or a dict of the `key: number` pairs when it is not JSON."""
    try:
        return json.loads(generated)
    except json.JSONDecodeError:
        pass
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long to convert, absurd nesting
        raise EmotionOutputError(f"the emotion model's answer cannot be read ({exc}); please retry") from None
    return {key: _number(value, key) for key, value in _PAIR.findall(generated)}


def _number(value: Any, key: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range: numeric, just huge
        return float("inf") if value > 0 else float("-inf")
    except (TypeError, ValueError):
        raise EmotionOutputError(
            f"the emotion model gave {key!r} the non-numeric score {value!r}; please retry the request"
        ) from None


def _label(value: Any) -> str | None:
    """The Chinese key a label names (Chinese key, or English name in any case), else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value in EMOTIONS_ZH:
        return value
    return _EN_TO_ZH.get(value.lower())


def _mentions_melancholy(source_text: str) -> bool:
    lowered = source_text.lower()
    return any(word in lowered for word in MELANCHOLIC_WORDS)


def _swap_sad_melancholic(answer: Any) -> dict:
    if isinstance(answer, dict):
        scores = dict(answer)
    else:
        # Upstream raises here (it indexes a non-dict); treat a bare label as its one-hot dict instead.
        label = _label(answer)
        scores = {label: 1.0} if label is not None else {}
    scores[SAD], scores[MELANCHOLIC] = scores.get(MELANCHOLIC, 0.0), scores.get(SAD, 0.0)
    return scores


def _resolve_labels(answer: Any) -> dict:
    """Turn label-style answers into scores; a score dict passes through."""
    scores = dict(answer) if isinstance(answer, dict) else {}
    named = _label(answer) if isinstance(answer, str) else None
    if named is None:
        for field in LABEL_FIELDS:
            named = _label(scores.get(field))
            if named is not None:
                break
    if named is not None and not any(key in scores for key in EMOTIONS_ZH):
        scores[named] = 1.0
    # In order, so a label value rewrites later keys before they are looked at (upstream's order).
    for key in EMOTIONS_ZH:
        named = _label(scores.get(key))
        if named is not None:
            scores[key] = 1.0 if named == key else 0.0
            if named != key:
                scores[named] = 1.0
    return scores


def parse_emotion_output(generated: str, source_text: str) -> list[float]:
    """The 8 emotion values (order of labels.EMOTIONS) from the model's decoded answer to `source_text`.

    Raises EmotionOutputError when a score is not a number.
    """
    answer = _read_answer(generated)
    if _mentions_melancholy(source_text):
        answer = _swap_sad_melancholic(answer)
    scores = _resolve_labels(answer)
    # max(lo, min(hi, x)) in this order: NaN becomes MAX_SCORE, as upstream
    vector = [max(MIN_SCORE, min(MAX_SCORE, _number(scores.get(key, 0.0), key))) for key in EMOTIONS_ZH]
    if all(v <= 0.0 for v in vector):
        vector[EMOTIONS_ZH.index(CALM)] = 1.0
    return vector


# ---------------------------------------------------------------------------------------------
# model

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _download_hint(folder: Path) -> str:
    return (
        f"It ships with the checkpoint IndexTeam/IndexTTS-2 as {QWEN_FOLDER}/: "
        f"hf download IndexTeam/IndexTTS-2 --include '{QWEN_FOLDER}/*' --local-dir {folder.parent}"
    )


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise CheckpointError(f"emotion-from-text model folder {folder} not found. {_download_hint(folder)}")
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        missing.append("weights (model.safetensors)")
    has_vocab = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    if not ((folder / "tokenizer.json").is_file() or has_vocab):
        missing.append("tokenizer (tokenizer.json)")
    if missing:
        raise CheckpointError(
            f"emotion-from-text model folder {folder} is incomplete: missing {', '.join(missing)}. "
            f"{_download_hint(folder)}"
        )


def _resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        # Upstream loads float16 everywhere; on CPU that is slow and less exact, so float32 there.
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}")
        return resolved
    return dtype


def _after_last(ids: list[int], marker: int | None) -> list[int]:
    """The ids after the last `marker` (all of them when it does not occur)."""
    if marker is None or marker not in ids:
        return ids
    return ids[len(ids) - ids[::-1].index(marker) :]


class TextEmotionModel:
    """The checkpoint's Qwen emotion classifier: `model(text)` → 8 emotion values in [0, 1.2].

    The folder is checked on construction (CheckpointError naming what to download); tokenizer and
    weights load on first use, once, from local files only. Generation uses the folder's
    generation_config (the real one may sample, so answers can vary between calls) with at most
    `max_new_tokens` new tokens. Calls are serialised: one model, one tokenizer, no concurrent use.
    """

    def __init__(
        self,
        folder: Path | str,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | str | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    ) -> None:
        self.folder = Path(folder)
        self.device = torch.device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.max_new_tokens = max_new_tokens
        _check_folder(self.folder)
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._end_think_id: int | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise the first call does); a no-op once loaded."""
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
            model, info = AutoModelForCausalLM.from_pretrained(
                self.folder, local_files_only=True, dtype=self.dtype, output_loading_info=True
            )
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            raise CheckpointError(
                f"emotion-from-text model in {self.folder} cannot be loaded ({type(exc).__name__}: {exc}). "
                f"{_download_hint(self.folder)}"
            ) from exc
        missing = sorted(info.get("missing_keys") or ())
        if missing:  # transformers would run with those weights randomly initialised
            raise CheckpointError(
                f"emotion-from-text weights in {self.folder} lack {len(missing)} tensors "
                f"({', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}). {_download_hint(self.folder)}"
            )
        if tokenizer.chat_template is None:
            raise CheckpointError(f"emotion-from-text tokenizer in {self.folder} has no chat template")
        self._end_think_id = tokenizer.get_vocab().get(END_THINK_TOKEN)
        self._tokenizer = tokenizer
        self._model = model.to(self.device).eval()  # set last: `loaded` means fully usable

    def prompt(self, text: str) -> str:
        """The chat-formatted prompt for `text` (system prompt, generation prompt, thinking disabled)."""
        self.load()
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        return self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )

    def answer(self, text: str) -> str:
        """The model's decoded answer for `text`: new tokens after the last `</think>`, specials skipped."""
        prompt = self.prompt(text)
        with self._run_lock:
            inputs = self._tokenizer([prompt], return_tensors="pt").to(self.device)
            with torch.inference_mode():
                generated = self._model.generate(
                    **inputs, max_new_tokens=self.max_new_tokens, pad_token_id=self._tokenizer.eos_token_id
                )  # (1, T_prompt + T_new)
            new_ids = generated[0, inputs["input_ids"].shape[1] :].tolist()
            return self.decode_answer(new_ids)

    def decode_answer(self, new_ids: list[int]) -> str:
        """Decode generated ids the way upstream does: after the last `</think>`, skipping special tokens."""
        self.load()
        return self._tokenizer.decode(_after_last(new_ids, self._end_think_id), skip_special_tokens=True)

    def __call__(self, text: str) -> list[float]:
        """The 8 emotion values (order of labels.EMOTIONS) the model reads in `text`."""
        return parse_emotion_output(self.answer(text), text)
