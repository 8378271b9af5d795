"""`python -m indextts frontend`: what the model receives for a text and a voice prompt."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from indextts.cli.common import add_cache_dir_argument, add_model_dir_argument, resolve_model_dir
from indextts.config import ModelConfig, load_config

log = logging.getLogger("indextts")

DEMO_TEXT = "大家好，欢迎体验 IndexTTS Node！Hello everyone, this is a quick test of the text front end."


def run(args: argparse.Namespace) -> int:
    """Run the text and audio front ends of a synthesis and print what the model would receive."""
    from indextts.text import TextFrontEnd

    model_dir = resolve_model_dir(args.model_dir, args.cache_dir)
    cfg = load_config(model_dir)
    frontend = TextFrontEnd.from_checkpoint(model_dir, cfg, args.cache_dir)
    started = time.perf_counter()
    frontend.normalizer.load()
    log.info("text normaliser ready in %.1f s", time.perf_counter() - started)

    text = args.text
    print(f"text:        {text}")
    print(f"normalised:  {frontend.tokenizer.prepare(text)}")
    segments = frontend.segments(text, args.max_tokens)
    pieces = [p for segment in segments for p in segment.pieces]
    unknown = frontend.tokenizer.unknown_pieces(pieces)
    print(f"tokens:      {len(pieces)} ({len(unknown)} unknown{': ' + ' '.join(unknown) if unknown else ''})")
    print(f"segments:    {len(segments)} (at most {args.max_tokens} tokens each)")
    for index, segment in enumerate(segments, 1):
        print(f"  {index:>3}  [{len(segment):>3} tokens]  {segment.text}")

    if args.prompt is not None:
        _report_prompt(args.prompt, cfg, model_dir)
    return 0


def _report_prompt(prompt: Path, cfg: ModelConfig, model_dir: Path) -> None:
    from indextts import audio

    started = time.perf_counter()
    speaker = audio.load_speaker_prompt(prompt)
    spect = cfg.s2mel.preprocess_params.spect_params
    mel = audio.mel_spectrogram(speaker.wave_22k, spect, cfg.s2mel.preprocess_params.sr)
    fbank = audio.speaker_fbank(speaker.wave_16k)
    extractor = audio.w2v_bert_feature_extractor(model_dir / "hf_cache" / "w2v-bert-2.0")
    features, mask = audio.w2v_bert_inputs(extractor, speaker.wave_16k)
    emotion = audio.load_emotion_prompt(prompt)
    emo_features, _ = audio.w2v_bert_inputs(extractor, emotion)
    print(f"prompt:      {prompt} ({speaker.duration:.2f} s used)")
    print(f"  22.05 kHz wave   {tuple(speaker.wave_22k.shape)}   → log-mel {tuple(mel.shape)}")
    print(f"  16 kHz wave      {tuple(speaker.wave_16k.shape)}   → Kaldi fbank {tuple(fbank.shape)}")
    print(f"  w2v-BERT input   {tuple(features.shape)} (mask {int(mask.sum())} frames)")
    print(f"  emotion input    {tuple(emo_features.shape)} (16 kHz straight from the file)")
    print(f"  front end time   {time.perf_counter() - started:.2f} s")
    print("Synthesis itself: `python -m indextts synth --help`; this command stops at the front ends.")


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    frontend = commands.add_parser(
        "frontend",
        help="show what the model receives for a text and a voice prompt",
        description="Normalise, tokenise and segment TEXT; decode PROMPT and compute its mel, fbank and "
        "w2v-BERT inputs. Uses the demo checkpoint when --model-dir holds no model.",
    )
    frontend.add_argument("--text", default=DEMO_TEXT, help="text to process (default: a bilingual sample)")
    frontend.add_argument("--prompt", type=Path, help="voice prompt audio file (WAV, FLAC, MP3, …)")
    add_model_dir_argument(frontend)
    frontend.add_argument(
        "--max-tokens",
        type=int,
        default=120,
        help="max_text_tokens_per_segment: largest number of tokens per segment (default 120)",
    )
    add_cache_dir_argument(frontend)
    frontend.set_defaults(run=run)
    return frontend
