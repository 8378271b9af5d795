"""The page: components, which controls each emotion mode shows, language switching, events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from serving.node import Node
from serving.request import EMOTION_COUNT, EmotionMode
from ui.examples import load_cases
from ui.handlers import MODEL_OPTION_FIELDS, SAMPLING_FIELDS, UiHandlers
from ui.i18n import DEFAULT_LANG, LANGUAGES, STRINGS, emotion_labels, reword, text
from ui.uploads import check_prompt_upload

CSS = """
#demo-banner { background: #fff1f0; border: 2px solid #cf1322; border-radius: 8px; padding: 2px 12px; }
#demo-banner * { color: #a8071a !important; }
#demo-banner p { margin: 4px 0 !important; }
#demo-banner summary { cursor: pointer; font-size: 0.9em; }
@media (max-width: 640px) { #demo-banner { font-size: 0.85em; } }
#lang-switch { max-width: 260px; margin-left: auto; }
.form:has(> #lang-switch) { background: none; border: none; box-shadow: none; }
/* The preview's long segments wrap; the index and Tokens columns keep their place in view. */
#segment-preview table { table-layout: fixed; width: 100%; }
#segment-preview td { white-space: normal !important; overflow-wrap: anywhere; }
#segment-preview th, #segment-preview th * { word-break: keep-all !important; overflow-wrap: normal !important; }
@media (max-width: 640px) { #segment-preview th, #segment-preview td { font-size: 0.85em; } }
.upload-note p, #text-length p { margin: 2px 0 !important; font-size: 0.9em; }
"""

# Follow the browser's language unless the visitor chose one before (kept in localStorage).
DETECT_LANGUAGE_JS = """
() => {
  const saved = window.localStorage.getItem("indextts-lang");
  if (saved === "zh" || saved === "en") return saved;
  return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}
"""
REMEMBER_LANGUAGE_JS = "(lang) => { window.localStorage.setItem('indextts-lang', lang); return lang; }"

STATUS_REFRESH_SECONDS = 3.0


def _mode_choices(lang: str) -> list[tuple[str, str]]:
    keys = {EmotionMode.NONE: "mode_none", EmotionMode.AUDIO: "mode_audio"}
    keys |= {EmotionMode.VECTOR: "mode_vector", EmotionMode.TEXT: "mode_text"}
    return [(text(key, lang), mode.value) for mode, key in keys.items()]


class Translations:
    """Components and how to word them in a language; `updates(lang)` re-labels them all."""

    def __init__(self) -> None:
        self._items: list[tuple[gr.components.Component | gr.blocks.BlockContext, Callable[[str], dict]]] = []

    def add(self, component: Any, make: Callable[[str], dict] | None = None, **keys: str) -> Any:
        def words(lang: str) -> dict:
            return {prop: text(key, lang) for prop, key in keys.items()} | (make(lang) if make else {})

        self._items.append((component, words))
        return component

    @property
    def components(self) -> list[Any]:
        return [component for component, _ in self._items]

    def updates(self, lang: str) -> list[dict]:
        return [gr.update(**words(lang)) for _, words in self._items]


def _mode_visibility(mode: str) -> list[dict]:
    """emo_audio, its note, vector group, emo_text, emo_alpha, use_random."""
    m = EmotionMode(mode)
    return [
        gr.update(visible=m is EmotionMode.AUDIO),
        gr.update(visible=m is EmotionMode.AUDIO),
        gr.update(visible=m is EmotionMode.VECTOR),
        gr.update(visible=m is EmotionMode.TEXT),
        gr.update(visible=m is not EmotionMode.NONE),
        gr.update(visible=m in (EmotionMode.VECTOR, EmotionMode.TEXT)),
    ]


def _language_choices(lang: str, languages: tuple[str, ...]) -> list[tuple[str, str]]:
    """The 2.5 model's text languages, "auto" first, worded in the page language."""
    return [(text("language_auto", lang), "auto")] + [
        (text(f"language_{code}", lang) if f"language_{code}" in STRINGS else code, code) for code in languages
    ]


def build_blocks(node: Node, gui_seg_tokens: int = 120, examples_file: Path | None = None) -> gr.Blocks:
    handlers = UiHandlers(node)
    tr = Translations()
    lang0 = DEFAULT_LANG
    seg_default = min(600, max(20, gui_seg_tokens))
    loaded = node.loaded

    with gr.Blocks(title="IndexTTS2 · IndexTTS Node") as blocks:
        with gr.Row(equal_height=True):
            tr.add(gr.Markdown(text("title", lang0)), value="title")
            lang = gr.Radio(LANGUAGES, value=lang0, label=text("language", lang0), elem_id="lang-switch")
            tr.add(lang, label="language")
        if loaded.demo:
            tr.add(
                gr.Markdown(text("demo_banner", lang0), elem_id="demo-banner"),
                value="demo_banner",
            )
        tr.add(gr.Markdown(text("subtitle", lang0)), value="subtitle")

        with gr.Row():
            with gr.Column():
                prompt_audio = tr.add(
                    gr.Audio(
                        sources=["upload", "microphone"],
                        type="filepath",
                        label=text("prompt_audio", lang0),
                        elem_id="prompt-audio",
                    ),
                    label="prompt_audio",
                )
                prompt_note = gr.Markdown("", elem_id="prompt-audio-note", elem_classes="upload-note")
                text_box = tr.add(
                    gr.Textbox(
                        label=text("text", lang0),
                        placeholder=text("text_placeholder", lang0),
                        lines=5,
                        max_length=10_000,
                        elem_id="text-input",
                    ),
                    label="text",
                    placeholder="text_placeholder",
                )
                length_notice = gr.Markdown("", elem_id="text-length")
                with gr.Row():
                    generate_button = tr.add(
                        gr.Button(text("generate", lang0), variant="primary", elem_id="generate"), value="generate"
                    )
                    stop_button = tr.add(gr.Button(text("stop", lang0), variant="stop", elem_id="stop"), value="stop")
            with gr.Column():
                result_audio = tr.add(
                    gr.Audio(
                        label=text("result", lang0),
                        type="filepath",
                        interactive=False,
                        buttons=["download"],
                        elem_id="result-audio",
                    ),
                    label="result",
                )
                result_info = gr.Markdown(elem_id="result-info")

        with gr.Accordion(text("emotion_section", lang0), open=True) as emotion_section:
            tr.add(emotion_section, label="emotion_section")
            emo_mode = tr.add(
                gr.Radio(
                    _mode_choices(lang0),
                    value=EmotionMode.NONE.value,
                    label=text("emo_mode", lang0),
                    elem_id="emo-mode",
                ),
                lambda lang: {"choices": _mode_choices(lang)},
                label="emo_mode",
            )
            emo_audio = tr.add(
                gr.Audio(
                    sources=["upload", "microphone"],
                    type="filepath",
                    label=text("emo_audio", lang0),
                    visible=False,
                    elem_id="emo-audio",
                ),
                label="emo_audio",
            )
            emo_note = gr.Markdown("", visible=False, elem_id="emo-audio-note", elem_classes="upload-note")
            with gr.Group(visible=False, elem_id="emo-vector") as vector_group:
                with gr.Row():
                    sliders = []
                    for index in range(EMOTION_COUNT):
                        slider = gr.Slider(
                            0.0,
                            1.0,
                            value=0.0,
                            step=0.05,
                            label=emotion_labels(lang0)[index],
                            min_width=100,  # all eight on one row on a laptop screen
                            elem_id=f"emo-vec-{index + 1}",
                        )
                        sliders.append(tr.add(slider, lambda lang, i=index: {"label": emotion_labels(lang)[i]}))
                vector_note = gr.Markdown(handlers.vector_note(lang0, *[0.0] * EMOTION_COUNT), elem_id="vector-note")
            emo_text = tr.add(
                gr.Textbox(
                    label=text("emo_text", lang0),
                    placeholder=text("emo_text_placeholder", lang0),
                    visible=False,
                    elem_id="emo-text",
                ),
                label="emo_text",
                placeholder="emo_text_placeholder",
            )
            with gr.Row():
                emo_alpha = tr.add(
                    gr.Slider(
                        0.0,
                        1.0,
                        value=0.65,
                        step=0.01,
                        label=text("emo_alpha", lang0),
                        info=text("emo_alpha_info", lang0),
                        visible=False,
                        elem_id="emo-alpha",
                    ),
                    label="emo_alpha",
                    info="emo_alpha_info",
                )
                use_random = tr.add(
                    gr.Checkbox(
                        False, label=text("use_random", lang0), info=text("use_random_info", lang0), visible=False
                    ),
                    label="use_random",
                    info="use_random_info",
                )

        with gr.Accordion(text("segments_section", lang0), open=True) as segments_section:
            tr.add(segments_section, label="segments_section")
            seg_tokens = tr.add(
                gr.Slider(
                    20,
                    600,
                    value=seg_default,
                    step=2,
                    label=text("seg_tokens", lang0),
                    info=text("seg_tokens_info", lang0),
                    elem_id="seg-tokens",
                ),
                label="seg_tokens",
                info="seg_tokens_info",
            )
            # Only a model that has them (IndexTTS-2.5) gets these two controls; IndexTTS-2 pages are unchanged.
            model_options: dict[str, Any] = {}
            if node.engine.languages or node.engine.has_duration_factor:
                with gr.Row():
                    if node.engine.languages:
                        languages = node.engine.languages
                        model_options["language"] = tr.add(
                            gr.Dropdown(
                                _language_choices(lang0, languages),
                                value="auto",
                                label=text("text_language", lang0),
                                info=text("text_language_info", lang0),
                                elem_id="text-language",
                            ),
                            lambda lang, codes=languages: {"choices": _language_choices(lang, codes)},
                            label="text_language",
                            info="text_language_info",
                        )
                    if node.engine.has_duration_factor:
                        model_options["duration_factor"] = tr.add(
                            gr.Slider(
                                0.5,
                                2.0,
                                value=1.0,
                                step=0.05,
                                label=text("duration_factor", lang0),
                                info=text("duration_factor_info", lang0),
                                elem_id="duration-factor",
                            ),
                            label="duration_factor",
                            info="duration_factor_info",
                        )
            language_input = [model_options["language"]] if "language" in model_options else []
            # Not in `tr`: its headers come with its value, which `relabel` renders again.
            preview = gr.Dataframe(
                headers=[text(k, lang0) for k in ("col_index", "col_segment", "col_tokens")],
                datatype=["number", "str", "number"],
                label=text("preview", lang0),
                interactive=False,
                wrap=True,
                column_widths=["14%", "66%", "20%"],
                elem_id="segment-preview",
            )

        with gr.Accordion(text("advanced", lang0), open=False) as advanced:
            tr.add(advanced, label="advanced")
            with gr.Row():
                do_sample = tr.add(gr.Checkbox(True, label=text("do_sample", lang0)), label="do_sample")
                temperature = tr.add(
                    gr.Slider(0.1, 2.0, value=0.8, step=0.1, label=text("temperature", lang0)), label="temperature"
                )
                top_p = tr.add(gr.Slider(0.0, 1.0, value=0.8, step=0.01, label=text("top_p", lang0)), label="top_p")
                top_k = tr.add(gr.Slider(0, 100, value=30, step=1, label=text("top_k", lang0)), label="top_k")
            with gr.Row():
                num_beams = tr.add(gr.Slider(1, 10, value=3, step=1, label=text("num_beams", lang0)), label="num_beams")
                repetition_penalty = tr.add(
                    gr.Number(10.0, minimum=0.1, maximum=20.0, step=0.1, label=text("repetition_penalty", lang0)),
                    label="repetition_penalty",
                )
                length_penalty = tr.add(
                    gr.Number(0.0, minimum=-2.0, maximum=2.0, step=0.1, label=text("length_penalty", lang0)),
                    label="length_penalty",
                )
                max_mel_tokens = tr.add(
                    gr.Slider(
                        50, 1815, value=1500, step=10, label=text("max_mel_tokens", lang0), elem_id="max-mel-tokens"
                    ),
                    label="max_mel_tokens",
                )
            with gr.Row():
                interval_silence = tr.add(
                    gr.Slider(0, 2000, value=200, step=10, label=text("interval_silence", lang0)),
                    label="interval_silence",
                )
                seed = tr.add(gr.Number(-1, precision=0, label=text("seed", lang0), elem_id="seed"), label="seed")

        cases = load_cases(examples_file) if examples_file else []
        if cases:
            examples = gr.Examples(
                examples=[case.row() for case in cases],
                inputs=[prompt_audio, text_box, emo_mode, emo_audio, emo_alpha, *sliders, emo_text],
                label=text("examples", lang0),
                example_labels=[case.label(lang0) for case in cases],
                examples_per_page=20,
            )
            tr.add(
                examples.dataset,
                lambda lang: {"sample_labels": [case.label(lang) for case in cases]},
                label="examples",
            )

        with gr.Accordion(text("status_section", lang0), open=True) as status_section:
            tr.add(status_section, label="status_section")
            status_md = gr.Markdown(handlers.status_markdown(lang0), elem_id="node-status")
            refresh = tr.add(gr.Button(text("refresh", lang0), size="sm"), value="refresh")
        model_line = gr.Markdown(
            text("model_line", lang0, model=loaded.model_dir, device=loaded.device, dtype=loaded.dtype)
        )
        tr.add(
            model_line,
            lambda lang: {
                "value": text("model_line", lang, model=loaded.model_dir, device=loaded.device, dtype=loaded.dtype)
            },
        )

        # --- events --------------------------------------------------------------------------------
        quiet = {"show_progress": "hidden", "queue": False}
        emo_mode.change(
            _mode_visibility, emo_mode, [emo_audio, emo_note, vector_group, emo_text, emo_alpha, use_random], **quiet
        )
        for slider in sliders:
            slider.change(handlers.vector_note, [lang, *sliders], vector_note, **quiet)
        preview_triggers = [text_box.change, seg_tokens.change] + [c.change for c in language_input]
        for trigger in preview_triggers:
            trigger(handlers.preview, [text_box, seg_tokens, lang, *language_input], preview, **quiet)
        text_box.change(handlers.length_notice, [text_box, lang], length_notice, **quiet)
        for widget, note in ((prompt_audio, prompt_note), (emo_audio, emo_note)):
            for trigger in (widget.upload, widget.stop_recording):
                trigger(check_prompt_upload, [widget, lang], [widget, note], **quiet)
            widget.clear(lambda: "", None, note, **quiet)

        def relabel(lang_value: str, text_value: str, seg: float, *shown: Any) -> list[Any]:
            """Every word on the page in `lang_value`, including lines that events have written."""
            result, prompt_words, emo_words, *vector = shown
            vector, chosen = vector[:EMOTION_COUNT], vector[EMOTION_COUNT:]  # chosen: the 2.5 text language
            return [
                *tr.updates(lang_value),
                handlers.vector_note(lang_value, *vector),
                handlers.status_markdown(lang_value),
                gr.update(
                    value=handlers.preview(text_value, seg, lang_value, *chosen), label=text("preview", lang_value)
                ),
                handlers.length_notice(text_value, lang_value),
                *(reword(words, lang_value) for words in (result, prompt_words, emo_words)),
            ]

        relabel_inputs = [lang, text_box, seg_tokens, result_info, prompt_note, emo_note, *sliders, *language_input]
        relabel_outputs = [*tr.components, vector_note, status_md, preview, length_notice]
        relabel_outputs += [result_info, prompt_note, emo_note]
        lang.change(relabel, relabel_inputs, relabel_outputs, **quiet)
        lang.input(None, lang, None, js=REMEMBER_LANGUAGE_JS, **quiet)
        blocks.load(None, None, lang, js=DETECT_LANGUAGE_JS)
        blocks.load(handlers.preview, [text_box, seg_tokens, lang, *language_input], preview, **quiet)
        if cases:  # an example restores its inputs' original (Chinese) labels: word them again
            examples.load_input_event.then(relabel, relabel_inputs, relabel_outputs, **quiet)

        refresh.click(handlers.status_markdown, lang, status_md, **quiet)
        gr.Timer(STATUS_REFRESH_SECONDS).tick(handlers.status_markdown, lang, status_md, **quiet)

        sampling_inputs = {
            "do_sample": do_sample,
            "temperature": temperature,
            "top_p": top_p,
            "top_k": top_k,
            "num_beams": num_beams,
            "repetition_penalty": repetition_penalty,
            "length_penalty": length_penalty,
            "max_mel_tokens": max_mel_tokens,
            "interval_silence": interval_silence,
            "seed": seed,
        }
        generate_button.click(
            handlers.generate,
            [lang, prompt_audio, text_box, emo_mode, emo_audio, emo_alpha, *sliders, emo_text, use_random, seg_tokens]
            + [sampling_inputs[name] for name in SAMPLING_FIELDS]
            + [model_options[name] for name in MODEL_OPTION_FIELDS if name in model_options],
            [result_audio, result_info],
            # Many pages may wait at once; the node's own queue orders them and reports positions.
            concurrency_limit=None,
            api_name="generate",
        )
        # Outside the queue, so a Stop is heard at once; the generation then reports "stopped".
        stop_button.click(handlers.stop, None, None, **quiet)
    return blocks
