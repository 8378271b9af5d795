"""Command line of the model library: `python -m indextts <command> --help`.

Flags have environment twins (INDEXTTS_MODEL_DIR, INDEXTTS_CACHE_DIR), read here at the edge
of the process and nowhere in the library.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from indextts.config import ModelConfig, default_cache_dir, load_config
from indextts.errors import IndexTTSError

log = logging.getLogger("indextts")

DEMO_TEXT = "大家好，欢迎体验 IndexTTS Node！Hello everyone, this is a quick test of the text front end."


def _banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *(f"! {line.ljust(width - 4)} !" for line in lines), bar])


def resolve_model_dir(model_dir: Path, cache_dir: Path) -> Path:
    """The checkpoint folder to use: `model_dir` when it holds a model, else the demo checkpoint."""
    if (model_dir / "bpe.model").is_file():
        return model_dir
    from indextts.demo_checkpoint import write_demo_checkpoint

    demo_dir = cache_dir / "demo-checkpoint-tiny"
    print(
        _banner(
            [
                f"No IndexTTS-2 model in {model_dir}/ — running on the DEMO checkpoint in {demo_dir}",
                "(built by the project, not trained): output is NOT real speech.",
                "Get the real model: see checkpoints/README.md.",
            ]
        ),
        file=sys.stderr,
    )
    return write_demo_checkpoint(demo_dir, "tiny")


def _cmd_frontend(args: argparse.Namespace) -> int:
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
    print("The neural stages (GPT, s2mel, vocoder) come with the Engine issues; this run stops here.")


def _cmd_demo_checkpoint(args: argparse.Namespace) -> int:
    from indextts.demo_checkpoint import write_demo_checkpoint

    path = write_demo_checkpoint(args.directory, args.size)
    print(f"demo checkpoint ({args.size}) written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indextts", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    frontend = commands.add_parser(
        "frontend",
        help="show what the model receives for a text and a voice prompt",
        description="Normalise, tokenise and segment TEXT; decode PROMPT and compute its mel, fbank and "
        "w2v-BERT inputs. Uses the demo checkpoint when --model-dir holds no model.",
    )
    frontend.add_argument("--text", default=DEMO_TEXT, help="text to process (default: a bilingual sample)")
    frontend.add_argument("--prompt", type=Path, help="voice prompt audio file (WAV, FLAC, MP3, …)")
    frontend.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("INDEXTTS_MODEL_DIR", "checkpoints")),
        help="IndexTTS-2 checkpoint folder (env INDEXTTS_MODEL_DIR; default ./checkpoints)",
    )
    frontend.add_argument(
        "--max-tokens",
        type=int,
        default=120,
        help="max_text_tokens_per_segment: largest number of tokens per segment (default 120)",
    )
    frontend.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("INDEXTTS_CACHE_DIR", default_cache_dir())),
        help="where compiled normaliser grammars and the demo checkpoint are kept (env INDEXTTS_CACHE_DIR)",
    )
    frontend.set_defaults(run=_cmd_frontend)

    demo = commands.add_parser("demo-checkpoint", help="write a demo checkpoint folder (official layout)")
    demo.add_argument("directory", type=Path)
    demo.add_argument("--size", choices=("tiny", "full"), default="tiny", help="tiny: fast tests; full: official sizes")
    demo.set_defaults(run=_cmd_demo_checkpoint)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except IndexTTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
