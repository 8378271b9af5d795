"""`python -m indextts synth`: text and a voice prompt in, a 22.05 kHz WAV out.

Flags mirror the official `infer(...)` arguments (§11.3) with the WebUI's ranges (§12). Everything
that can be checked without the model is checked before the model loads, and every problem with a
flag is reported as `error: argument --flag: …` with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from indextts.cli import options as opt
from indextts.cli.common import (
    UsageError,
    add_cache_dir_argument,
    add_model_dir_argument,
    existing_file,
    non_empty_text,
    ranged,
    resolve_model_dir,
)

DESCRIPTION = """\
Read TEXT aloud in the voice of the PROMPT recording and write a 22050 Hz mono 16-bit WAV.

The text is split into segments of at most --max-text-tokens-per-segment tokens; for each, the GPT
generates semantic codes, s2mel turns them into a mel spectrogram and BigVGAN into a waveform.
Segments are joined with --interval-silence ms of silence. Without a real model in --model-dir the
tiny demo checkpoint is used (random weights: the output is noise, not speech) and a banner says so.

Emotion: by default the speech takes the emotion of the voice prompt. Give ONE of --emo-audio (a
recording whose emotion to copy), --emo-vector (eight weights) or --emo-text / --use-emo-text (the
emotion read from a text by the Qwen model); --emo-alpha sets its strength."""

EPILOG = f"""\
example:
  python -m indextts synth --text "Hello, and welcome to IndexTTS." \\
      --prompt examples/voice_01.wav --out hello.wav
  python -m indextts synth --text "今天的天气真好！" --prompt examples/voice_09.wav \\
      --emo-vector happy=0.6,surprised=0.2 --emo-alpha 0.8 --seed 1 --out happy.wav

emotion order of --emo-vector: {", ".join(opt.EMOTIONS)}"""


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    synth = commands.add_parser(
        "synth",
        help="synthesise speech: text + voice prompt → WAV file",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=opt.HelpFormatter,
    )
    _io_arguments(synth.add_argument_group("input and output (required)"))
    _emotion_arguments(synth.add_argument_group("emotion"))
    _text_arguments(synth.add_argument_group("text segments and pauses"))
    _generation_arguments(synth.add_argument_group("GPT code generation (official infer defaults)"))
    _runtime_arguments(synth.add_argument_group("model and runtime"))
    synth.set_defaults(run=run, parser=synth)
    return synth


def _io_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--text", required=True, type=non_empty_text, help="what to say (Chinese, English or mixed)")
    group.add_argument(
        "--prompt",
        required=True,
        type=existing_file,
        metavar="WAV",
        help="voice prompt: a recording of the voice to imitate (WAV, FLAC, MP3, …; 3–15 s works best, "
        "only the first 15 s are used)",
    )
    group.add_argument("--out", required=True, type=Path, metavar="OUT.wav", help="WAV file to write")


def _emotion_arguments(group: argparse._ArgumentGroup) -> None:
    sources = group.add_mutually_exclusive_group()
    sources.add_argument("--emo-audio", type=existing_file, metavar="WAV", help="copy the emotion of this recording")
    sources.add_argument(
        "--emo-vector",
        nargs="+",
        action=opt.EmotionVectorAction,
        metavar="W",
        help="eight weights in [0, 1], in the order listed below: 8 numbers (0 0 0.8 0 0 0 0 0.2 or "
        "0,0,0.8,0,0,0,0,0.2) or name=value pairs (sad=0.8,calm=0.2; missing names are 0). Passed on as given, "
        "like the official infer; see --normalize-emo-vector",
    )
    sources.add_argument(
        "--emo-text", type=non_empty_text, metavar="TEXT", help="read the emotion from TEXT (the Qwen emotion model)"
    )
    sources.add_argument(
        "--use-emo-text", action="store_true", help="read the emotion from --text itself (the Qwen emotion model)"
    )
    low, high = opt.EMO_ALPHA
    group.add_argument(
        "--emo-alpha",
        type=ranged(float, low, high),
        metavar="A",
        help=f"strength of the chosen emotion, {low}–{high} (default 1.0; the WebUI suggests 0.65)",
    )
    group.add_argument(
        "--normalize-emo-vector",
        action="store_true",
        help="prepare --emo-vector as the WebUI does: per-emotion damping, then scale the sum down to at most 0.8",
    )
    group.add_argument(
        "--use-random",
        action="store_true",
        help="with --emo-vector or emotion text: pick emotion prototypes at random instead of the ones "
        "nearest the voice (less faithful to the voice; --seed makes it repeatable)",
    )


def _text_arguments(group: argparse._ArgumentGroup) -> None:
    low, high = opt.SEGMENT_TOKENS
    group.add_argument(
        "--max-text-tokens-per-segment",
        type=ranged(int, low, high),
        default=120,
        metavar="N",
        help=f"largest number of text tokens per segment, {low}–{high}",
    )
    low, high = opt.INTERVAL_SILENCE_MS
    group.add_argument(
        "--interval-silence",
        type=ranged(int, low, high),
        default=200,
        metavar="MS",
        help=f"silence between segments in milliseconds, {low}–{high}",
    )
    group.add_argument(
        "--language",
        metavar="LANG",
        help="IndexTTS-2.5: the text's language (zh, en, ja, es); default: detected from the text",
    )
    group.add_argument(
        "--duration-factor",
        type=ranged(float, 0.5, 2.0),
        default=1.0,
        metavar="F",
        help="IndexTTS-2.5: scale the speech length, 0.5 (faster) – 2.0 (slower)",
    )


def _generation_arguments(group: argparse._ArgumentGroup) -> None:
    d = opt.GENERATION_DEFAULTS
    group.add_argument(
        "--no-sample",
        dest="do_sample",
        action="store_false",
        help="pick the most likely codes (greedy / plain beam search) instead of sampling; deterministic. "
        "The official code always samples",
    )
    ranges = [
        ("--temperature", float, opt.TEMPERATURE, "T", "sampling temperature, {}–{}; lower is more conservative"),
        ("--top-p", float, opt.TOP_P, "P", "nucleus sampling: keep the likeliest codes up to this mass, {}–{}"),
        ("--top-k", int, opt.TOP_K, "K", "keep only the K likeliest codes, {}–{}; 0 turns the filter off"),
        ("--num-beams", int, opt.NUM_BEAMS, "N", "beam search width, {}–{}; 1 samples a single sequence (faster)"),
        ("--repetition-penalty", float, opt.REPETITION_PENALTY, "R", "penalty on codes already generated, {}–{}"),
        ("--length-penalty", float, opt.LENGTH_PENALTY, "L", "beam search, {}–{}: > 0 favours longer results"),
        (
            "--max-mel-tokens",
            int,
            opt.MAX_MEL_TOKENS,
            "N",
            "most codes per segment, {}–{} (1 code ≈ 20 ms); a segment that reaches it is cut short",
        ),
    ]
    for flag, kind, (low, high), metavar, text in ranges:
        default = d[flag[2:].replace("-", "_")]
        group.add_argument(
            flag, type=ranged(kind, low, high), default=default, metavar=metavar, help=text.format(low, high)
        )
    group.add_argument(
        "--typical-sampling", action="store_true", help="add typical-p filtering (an extra sampling filter)"
    )
    group.add_argument(
        "--typical-mass",
        type=ranged(float, 0.0, 1.0),
        default=d["typical_mass"],
        metavar="M",
        help="probability mass kept by --typical-sampling, 0–1",
    )
    group.add_argument(
        "--seed",
        type=ranged(int, 0, 2**63 - 1),
        metavar="N",
        help="random seed: the same seed, input and machine give the same audio (default: random)",
    )


def _runtime_arguments(group: argparse._ArgumentGroup) -> None:
    add_model_dir_argument(group)
    add_cache_dir_argument(group)
    group.add_argument(
        "--device",
        type=opt.device,
        default="auto",
        help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps",
    )
    group.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        default="float32",
        help="precision of the GPT on CUDA (other stages and other devices always use float32)",
    )


# --- running ------------------------------------------------------------------------------------


def _check_combinations(args: argparse.Namespace) -> None:
    emotion_from_weights = args.emo_vector is not None or args.emo_text is not None or args.use_emo_text
    if args.emo_alpha is not None and not (emotion_from_weights or args.emo_audio is not None):
        raise UsageError("--emo-alpha", "sets the strength of --emo-audio, --emo-vector or --emo-text; none is given")
    if args.use_random and not emotion_from_weights:
        raise UsageError("--use-random", "only has an effect with --emo-vector, --emo-text or --use-emo-text")
    if args.normalize_emo_vector and args.emo_vector is None:
        raise UsageError("--normalize-emo-vector", "needs --emo-vector")
    if args.out.suffix.lower() != ".wav":
        raise UsageError("--out", f"the output is a WAV file; give a name ending in .wav, not {args.out.name!r}")
    if args.out.is_dir():
        raise UsageError("--out", f"{args.out} is a folder; give a file name ending in .wav")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device", f"{args.device} was asked for but this machine has no usable CUDA GPU")


def _check_audio(args: argparse.Namespace) -> None:
    """Decode the recordings now, so a bad file is named by its flag before the model loads."""
    from indextts import audio
    from indextts.errors import AudioError

    checks = [("--prompt", args.prompt, audio.load_speaker_prompt)]
    if args.emo_audio is not None:
        checks.append(("--emo-audio", args.emo_audio, audio.load_emotion_prompt))
    for flag, path, load in checks:
        try:
            load(path)
        except AudioError as exc:
            raise UsageError(flag, str(exc)) from None


def _request(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `IndexTTS2.synthesize` for these flags."""
    vector = args.emo_vector
    if vector is not None and args.normalize_emo_vector:
        from indextts.emotion import normalize_emotion_vector

        vector = normalize_emotion_vector(vector)
    return dict(
        emo_audio_prompt=None if args.emo_audio is None else str(args.emo_audio),
        emo_alpha=1.0 if args.emo_alpha is None else args.emo_alpha,
        emo_vector=vector,
        use_emo_text=args.use_emo_text or args.emo_text is not None,
        emo_text=args.emo_text,
        use_random=args.use_random,
        interval_silence=args.interval_silence,
        max_text_tokens_per_segment=args.max_text_tokens_per_segment,
        seed=args.seed,
        language=args.language,
        duration_factor=args.duration_factor,
        do_sample=args.do_sample,
        top_p=args.top_p,
        top_k=args.top_k or None,
        temperature=args.temperature,
        num_beams=args.num_beams,
        repetition_penalty=args.repetition_penalty,
        length_penalty=args.length_penalty,
        max_mel_tokens=args.max_mel_tokens,
        typical_sampling=args.typical_sampling,
        typical_mass=args.typical_mass,
    )


def _progress(fraction: float, stage: str) -> None:
    print(f"[{fraction:4.0%}] {stage}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    _check_combinations(args)
    _check_audio(args)
    import soundfile as sf

    from indextts.errors import TextError
    from indextts.pipeline import IndexTTS

    model_dir = resolve_model_dir(args.model_dir, args.cache_dir)
    started = time.perf_counter()
    print(f"loading the model from {model_dir} …", file=sys.stderr, flush=True)
    tts = IndexTTS(model_dir, device=args.device, dtype=args.dtype, cache_dir=args.cache_dir)
    dtype = str(tts.dtype).removeprefix("torch.")
    print(f"model ready in {time.perf_counter() - started:.1f} s on {tts.device} ({dtype})", file=sys.stderr)
    try:
        result = tts.synthesize(str(args.prompt), args.text, progress=_progress, **_request(args))
    except TextError as exc:
        raise UsageError("--text", str(exc)) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(args.out, result.audio, result.sample_rate, subtype="PCM_16", format="WAV")
    print(summary(result, args.out, args.interval_silence))
    return 0


def summary(result: Any, out: Path, interval_silence: int) -> str:
    """What was written and where the time went (`result` is a pipeline `SynthesisResult`)."""
    hop = 256  # samples per mel frame at 22.05 kHz
    rate, segments, t = result.sample_rate, result.segments, result.timings
    cut = sum(not s.stopped for s in segments)
    lines = [
        f"wrote {out}: {result.duration:.2f} s, {result.audio.shape[0]} samples, {rate} Hz mono 16-bit",
        f"segments: {len(segments)}, codes: {result.codes}"
        + (f" ({cut} cut short at --max-mel-tokens)" if cut else ""),
        "    #  codes  frames  seconds  text",
    ]
    for s in segments:
        n = s.samples.shape[0]
        lines.append(f"  {s.index + 1:>3}  {s.codes:>5}  {n // hop:>6}  {n / rate:>7.2f}  {s.text}")
    if len(segments) > 1:
        lines.append(f"silence: {len(segments) - 1} × {interval_silence} ms")
    lines.append(f"time: {result.wall_seconds:.2f} s, RTF {result.rtf:.3f} (seconds of compute per second of audio)")
    stages = {
        "text": t.text,
        "prompt": t.prompt,
        "gpt generate": t.gpt_generate,
        "gpt latent": t.gpt_latent,
        "s2mel": t.s2mel,
        "vocoder": t.vocoder,
    }
    lines.append("stages (s): " + " · ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items()))
    return "\n".join(lines)
