"""`IndexTTS`: the public face of the library. Text and a voice prompt in, 22.05 kHz speech out.

One engine for both model generations; the checkpoint folder decides which (`indextts.generation`).
Per segment of the text: the GPT generates semantic codes; IndexTTS-2 re-reads them teacher-forced
for its latent, IndexTTS-2.5 decodes them with its 25 Hz codec instead; s2mel turns that content
into a mel spectrogram by flow matching (2.5: `duration_factor` scales its length), BigVGAN turns
the mel into a waveform. Segments are joined with `interval_silence` ms of zeros. Prompt conditioning is
cached by audio content. No UI calls: long work reports through a `progress(fraction, stage)`
callback, and failures are typed `IndexTTSError`s. A request can be cancelled: its `should_stop`
callable is asked between GPT decode steps and before each segment's decoding; once it says stop the
request leaves its batch (its neighbours go on unchanged) and the request ends with `Cancelled`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from indextts import rounds
from indextts.audio import SPEAKER_SAMPLE_RATE, AudioSource, silence_samples
from indextts.config import RuntimeSettings
from indextts.emotion.control import EmotionRequest, final_emovec, resolve_emotion
from indextts.errors import Cancelled, TextError
from indextts.gpt.generation import GeneratedCodes, GenerationSettings, ShouldStop, generate_codes_batch
from indextts.gpt.unified_voice import mix_emotions
from indextts.length_cap import SpeechLengthCap
from indextts.models import Models, load_models
from indextts.prompts import SpeakerPrompt
from indextts.rounds import CFG_RATE, DIFFUSION_STEPS, DecodeGroups
from indextts.streaming import AudioChunk, OnChunk, stream_chunks
from indextts.text.frontend import TextSegment
from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS
from indextts.text.spans import Span, SpanLocator
from indextts.vocoder import to_pcm16_scale
from indextts.vocoder.streaming import chunk_bounds, vocode_chunks

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass
class StageTimings:
    """Wall seconds per stage, summed over segments."""

    text: float = 0.0
    prompt: float = 0.0
    gpt_generate: float = 0.0
    gpt_latent: float = 0.0
    s2mel: float = 0.0
    vocoder: float = 0.0

    def add(self, other: StageTimings) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def total(self) -> float:
        return sum(vars(self).values())


# a segment's codes, its content latent (None when cancelled) and its GPT timings
Generated = tuple[GeneratedCodes, torch.Tensor | None, StageTimings]


@dataclass(frozen=True)
class SegmentAudio:
    """One synthesised segment: PCM-scale float samples (±32767) and what made them."""

    index: int
    count: int
    text: str
    samples: np.ndarray  # (n,) float32, PCM scale
    codes: int
    stopped: bool  # False when the GPT hit max_mel_tokens
    timings: StageTimings
    span: Span | None = None  # [start, end) of the request's text this segment was made from


@dataclass(frozen=True)
class SynthesisResult:
    sample_rate: int
    audio: np.ndarray  # (n,) int16
    segments: list[SegmentAudio] = field(repr=False)
    timings: StageTimings
    wall_seconds: float

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    @property
    def rtf(self) -> float:
        return self.wall_seconds / self.duration if self.duration else float("inf")

    @property
    def codes(self) -> int:
        return sum(s.codes for s in self.segments)


@dataclass(eq=False)  # a plan is stateful (its generator): compared by identity
class RequestPlan:
    """One request made ready: its conditioning, its text segments, its settings and random state.

    Segments of many plans can be synthesised side by side (`synthesize_round`); each plan keeps its
    own generator, so what it produces does not depend on its neighbours.
    """

    speaker: SpeakerPrompt
    emovec: torch.Tensor  # (1, C)
    segments: list[TextSegment]
    settings: GenerationSettings
    generator: torch.Generator | None
    prompt_seconds: float
    text_seconds: float
    should_stop: ShouldStop | None = None  # cancellation check, asked between decode steps
    length_cap: SpeechLengthCap | None = None  # the engine's per-segment code limit, if it has one
    language: str | None = None  # 2.5: the language the text was read in (None for 2.0)
    language_index: int | None = None  # 2.5: its row of the GPT's lang_embedding
    duration_factor: float = 1.0  # 2.5: scales the generated mel length
    spans: SpanLocator | None = None  # where each segment came from in the request's text
    # A streaming plan: its segments are decoded alone, first in their round, and their audio is
    # handed here chunk by chunk as the vocoder makes it.
    on_chunk: OnChunk | None = None

    def span(self, index: int) -> Span | None:
        """[start, end) of the request's text that segment `index` was made from."""
        return self.spans.span(index) if self.spans is not None else None

    def stop_requested(self) -> bool:
        return self.should_stop is not None and self.should_stop()

    def settings_for(self, index: int) -> GenerationSettings:
        """Generation settings of segment `index`: the request's, under the length cap if any."""
        if self.length_cap is None:
            return self.settings
        return self.length_cap.settings_for(self.settings, len(self.segments[index].ids))


def to_int16(samples: np.ndarray) -> np.ndarray:
    """PCM-scale float → int16 by truncation toward zero, as the official in-memory result."""
    return samples.astype(np.int16)


DURATION_FACTOR_RANGE = (0.5, 2.0)  # the official UI's range
AUTO_LANGUAGE = "auto"


class IndexTTS:
    """Load once, then `infer` (whole utterance) or `infer_stream` (segment by segment).

    Serves an IndexTTS-2 or an IndexTTS-2.5 checkpoint (`generation`); the 2.5-only request
    options `language` and `duration_factor` are refused with a clear error on a 2.0 model.
    """

    def __init__(
        self,
        model_dir: str | Path = "checkpoints",
        device: str = "auto",
        dtype: str = "float32",
        cache_dir: str | Path | None = None,
        prompt_cache_size: int = 8,
        decode_step: str = "auto",
        speech_length_cap: SpeechLengthCap | None = None,
    ) -> None:
        """`speech_length_cap`: stop each segment at a length derived from its text (the demo checkpoint,
        whose GPT never emits its stop code); None keeps the official behaviour."""
        self.speech_length_cap = speech_length_cap
        settings = RuntimeSettings(
            device=device,
            dtype=dtype,
            decode_step=decode_step,
            **({"cache_dir": Path(cache_dir)} if cache_dir else {}),
        )
        self.decode_step = settings.decode_step
        self.device = settings.resolve_device()
        self.dtype = settings.resolve_dtype()
        self.models: Models = load_models(model_dir, self.device, self.dtype, settings.cache_dir, prompt_cache_size)
        self.sample_rate = SPEAKER_SAMPLE_RATE

    @property
    def model_dir(self) -> Path:
        return self.models.paths.model_dir

    @property
    def generation(self) -> str:
        """ "2" (IndexTTS-2) or "2.5" (IndexTTS-2.5)."""
        return self.models.generation

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages a request may name (2.5); empty for 2.0, which reads Chinese and English as they come."""
        return self.models.languages

    @property
    def has_duration_factor(self) -> bool:
        return self.generation == "2.5"

    # --- text ------------------------------------------------------------------------------------

    def resolve_language(self, text: str, language: str | None) -> str | None:
        """The language a request is read in: None for 2.0; for 2.5 the named one, else detected from the text."""
        wanted = None if language is None or language.strip().lower() in ("", AUTO_LANGUAGE) else language
        if self.generation != "2.5":
            if wanted is not None and wanted.lower() not in ("zh", "en"):
                raise TextError(
                    f"language {language!r}: this IndexTTS-2 model reads Chinese and English only (it picks them by "
                    "itself); other languages need an IndexTTS-2.5 checkpoint"
                )
            return None
        if wanted is None:
            return self.models.frontend.detect_language(text)
        wanted = wanted.strip().lower()
        if wanted not in self.languages:
            raise TextError(f"language {language!r} is not one of {', '.join(self.languages)} (or 'auto')")
        return wanted

    def split_segments(
        self,
        text: str,
        max_tokens: int = 120,
        quick_streaming_tokens: int = 0,
        language: str | None = None,
        first_segment_tokens: int = 0,
    ) -> list[TextSegment]:
        """The segments `infer` would synthesise, for previews (2.5: in `language`, detected when None;
        `first_segment_tokens`: a streaming request's short first segment, `indextts.text.segmenter` and
        `segmenter_v25`)."""
        return self._segments(text, max_tokens, quick_streaming_tokens, language, first_segment_tokens)[0]

    def _segments(
        self, text: str, max_tokens: int, quick_streaming_tokens: int, language: str | None, first_segment_tokens: int
    ) -> tuple[list[TextSegment], SpanLocator]:
        """Segments, and where each came from in `text` (2.5: verified in the request's language)."""
        chosen = self.resolve_language(text, language)
        if self.generation == "2.5":
            return self.models.frontend.located_segments(
                text, chosen, max_tokens, first_segment_tokens=first_segment_tokens
            )
        return self.models.frontend.located_segments(text, max_tokens, quick_streaming_tokens, first_segment_tokens)

    def _language_index(self, language: str) -> int:
        return self.models.frontend.tokenizer.language_index(language)

    # --- stages ----------------------------------------------------------------------------------

    def speaker(self, source: AudioSource) -> SpeakerPrompt:
        return self.models.prompts.speaker(source)

    def emotion_vector(
        self, speaker_audio: AudioSource, text: str, emotion: EmotionRequest, rng: random.Random | None = None
    ) -> torch.Tensor:
        """The (1, C) emotion vector for a request (modes of §8)."""
        m = self.models
        resolved = resolve_emotion(emotion, speaker_audio, text, m.text_emotion)
        speaker = m.prompts.speaker(speaker_audio)
        emo = m.prompts.emotion(resolved.emo_audio)
        base = self._recording_emotion(speaker.spk_cond_emb, speaker.derived)
        merged = mix_emotions(base, self._recording_emotion(emo.emo_cond_emb, emo.derived), resolved.alpha)
        return final_emovec(merged, resolved, m.matrices, speaker.style, rng)

    def _recording_emotion(self, cond_emb: torch.Tensor, derived: dict[str, torch.Tensor]) -> torch.Tensor:
        """A recording's own emotion vector (1, C), kept with its cached prompt (`merge_emovec`'s two halves)."""
        if "emotion" not in derived:
            with torch.inference_mode(), self._autocast():
                derived["emotion"] = self.models.gpt.emotion_vector(cond_emb)
        return derived["emotion"]

    def generate(
        self,
        speaker: SpeakerPrompt,
        emovec: torch.Tensor,
        segment: TextSegment,
        settings: GenerationSettings,
        generator: torch.Generator | None = None,
    ) -> tuple[GeneratedCodes, torch.Tensor, StageTimings]:
        """Codes and the GPT latent (1, N, C) for one segment."""
        return self.generate_batch([(speaker, emovec, segment, settings, generator)])[0]

    def generate_batch(
        self,
        items: Sequence[tuple[SpeakerPrompt, torch.Tensor, TextSegment, GenerationSettings, torch.Generator | None]],
        should_stop: Sequence[ShouldStop | None] | None = None,
        languages: Sequence[str | None] | None = None,
        on_ready: Callable[[int, Generated], None] | None = None,
    ) -> list[Generated]:
        """Codes and content latents for several segments, their codes generated in one batched decode.

        The latent is 2.0's teacher-forced GPT latent (1, N, C) or 2.5's codec decode (1, 2N, H).
        `languages` (2.5): each item's language (None: detected default). An item whose `should_stop`
        said stop comes back with `codes.cancelled` set and no latent.
        `on_ready(position, generated)`: each item's latent is made the step its codes are done and
        handed over at once (on this thread), while the other items go on decoding.
        """
        m = self.models
        gpt = m.gpt
        started = self._now()
        with torch.inference_mode(), self._autocast():
            conditionings, ids, prefixes = [], [], []
            for k, (speaker, emovec, segment, _, _) in enumerate(items):
                speaker_latent = gpt.speaker_latent(m.speaker_input(speaker).to(self.dtype))  # (1, 32|1, C)
                conditionings.append(gpt.conditioning(speaker_latent, emovec.to(speaker_latent.dtype)))  # (1, 34|3, C)
                ids.append(torch.tensor(segment.ids, dtype=torch.long, device=self.device))
                if m.generation == "2.5":
                    named = languages[k] if languages else None
                    language = self._language_index(named or m.frontend.detect_language(segment.text))
                    prefixes.append(gpt.prefix(conditionings[-1], ids[-1], language))
                else:
                    prefixes.append(gpt.prefix(conditionings[-1], ids[-1]))
            out: dict[int, Generated] = {}

            def finish(position: int, result: GeneratedCodes) -> None:
                generate_seconds = self._now() - started
                if result.cancelled:
                    out[position] = (result, None, StageTimings(gpt_generate=generate_seconds))
                else:
                    latent_started = self._now()
                    # (1, N, C) | (1, 2N, H)
                    latent = m.content_latent(conditionings[position], ids[position], result.codes)
                    timings = StageTimings(gpt_generate=generate_seconds, gpt_latent=self._now() - latent_started)
                    out[position] = (result, latent, timings)
                if on_ready is not None:
                    on_ready(position, out[position])

            generate_codes_batch(
                gpt, prefixes, [i[3] for i in items], [i[4] for i in items], should_stop, self.decode_step, finish
            )
        return [out[k] for k in range(len(items))]

    @torch.inference_mode()
    def decode(
        self,
        speaker: SpeakerPrompt,
        codes: torch.Tensor,
        latent: torch.Tensor,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        should_stop: ShouldStop | None = None,
        duration_factor: float = 1.0,
        on_samples: Callable[[int, int, torch.Tensor], None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, StageTimings]:
        """Codes (N,) + content latent → mel (1, 80, T_gen) and PCM-scale samples (n,), in float32.

        `should_stop` is asked between diffusion steps (and vocoder chunks); raises `Cancelled`.
        `on_samples(chunk, chunks, samples)`: vocode in chunks and hand each over as soon as it
        exists (the returned samples are then the joined chunks).
        """
        timings = StageTimings()
        started = self._now()
        mel = self.mel(speaker, codes, latent, generator, noise, should_stop, duration_factor)  # (1, 80, T_gen)
        timings.s2mel = self._now() - started
        started = self._now()
        if on_samples is None:
            wav = to_pcm16_scale(self.models.vocoder(mel.float())).reshape(-1)  # (n,)
        else:
            pieces = []
            for chunk, samples in enumerate(self.vocode_chunks(mel, should_stop)):
                pieces.append(samples)
                on_samples(chunk, len(chunk_bounds(mel.shape[-1])), samples)
            wav = torch.cat(pieces)
        timings.vocoder = self._now() - started
        return mel, wav, timings

    @torch.inference_mode()
    def mel(
        self,
        speaker: SpeakerPrompt,
        codes: torch.Tensor,
        latent: torch.Tensor,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        should_stop: ShouldStop | None = None,
        duration_factor: float = 1.0,
    ) -> torch.Tensor:
        """Codes (N,) + content latent → mel (1, 80, T_gen) by s2mel flow matching."""
        m = self.models
        cond = m.content(codes, latent, duration_factor)  # (1, T_gen, C)
        return m.s2mel.generate_mel(
            speaker.prompt_condition,
            cond,
            speaker.ref_mel,
            speaker.style,
            DIFFUSION_STEPS,
            CFG_RATE,
            noise=noise,
            generator=generator,
            should_stop=should_stop,
        )  # (1, 80, T_gen)

    def vocode_chunks(self, mel: torch.Tensor, should_stop: ShouldStop | None = None) -> Iterator[torch.Tensor]:
        """mel (1, 80, T) → PCM-scale samples (n_k,) chunk by chunk (`indextts.vocoder.streaming`);
        `should_stop` is asked before each chunk after the first."""
        for chunk, wav in enumerate(vocode_chunks(self.models.vocoder, mel.float())):
            if chunk and should_stop is not None and should_stop():
                raise Cancelled("cancelled while vocoding")
            yield to_pcm16_scale(wav).reshape(-1)

    def decode_batch(
        self,
        items: Sequence[tuple[SpeakerPrompt, torch.Tensor, torch.Tensor, torch.Generator | None]],
        duration_factors: Sequence[float] | None = None,
        noises: Sequence[torch.Tensor] | None = None,
    ) -> list[tuple[torch.Tensor, torch.Tensor, StageTimings]]:
        """`decode` for several segments (speaker, codes, latent, generator) with one flow-matching
        solve and one vocoder pass for all; each result equals its `decode` up to float rounding.
        `noises`: each segment's flow-matching start, drawn beforehand (`indextts.rounds`).

        The batch's stage times are shared work: each segment reports all of them (as `generate_batch`).
        """
        return rounds.decode_batch(self, items, duration_factors, noises)

    def decode_frames(self, speaker: SpeakerPrompt, n_codes: int, duration_factor: float = 1.0) -> int:
        """Frames the flow-matching solver runs on for a segment of n codes (prompt + generated)."""
        return speaker.ref_mel.shape[-1] + self.models.content_frames(n_codes, duration_factor)

    # --- whole requests --------------------------------------------------------------------------

    def plan(
        self,
        spk_audio_prompt: AudioSource,
        text: str,
        emo_audio_prompt: AudioSource | None = None,
        emo_alpha: float = 1.0,
        emo_vector: Sequence[float] | None = None,
        use_emo_text: bool = False,
        emo_text: str | None = None,
        use_random: bool = False,
        max_text_tokens_per_segment: int = 120,
        quick_streaming_tokens: int = 0,
        seed: int | None = None,
        should_stop: ShouldStop | None = None,
        language: str | None = None,
        duration_factor: float = 1.0,
        first_segment_tokens: int = 0,
        on_chunk: OnChunk | None = None,
        **generation: object,
    ) -> RequestPlan:
        """Conditioning and segments for a request (the arguments of `infer_stream`); raises `IndexTTSError`.

        `should_stop` (optional) is this request's cancellation check, see `synthesize_round`.
        `language` (2.5; None or "auto": detected from the text) and `duration_factor` (2.5, 0.5–2.0).
        `first_segment_tokens` > 0 cuts a short first segment (streaming, `indextts.text.segmenter`);
        `on_chunk` makes it a streaming plan (`RequestPlan.on_chunk`).
        """
        self._check_duration_factor(duration_factor)
        chosen_language = self.resolve_language(text, language)
        settings = GenerationSettings(**generation)  # type: ignore[arg-type]
        started = self._now()
        speaker = self.speaker(spk_audio_prompt)
        emotion = EmotionRequest(emo_audio_prompt, emo_alpha, emo_vector, use_emo_text, emo_text, use_random)
        rng = random.Random(seed) if seed is not None else None
        emovec = self.emotion_vector(spk_audio_prompt, text, emotion, rng)
        prompt_seconds = self._now() - started
        started = self._now()
        segments, spans = self._segments(
            text, max_text_tokens_per_segment, quick_streaming_tokens, chosen_language, first_segment_tokens
        )
        if not segments:
            raise TextError("the text is empty after normalisation: nothing to say")
        text_seconds = self._now() - started
        return RequestPlan(
            speaker,
            emovec,
            segments,
            settings,
            self._generator(seed),
            prompt_seconds,
            text_seconds,
            should_stop,
            self.speech_length_cap,
            chosen_language,
            self._language_index(chosen_language) if chosen_language else None,
            float(duration_factor),
            spans,
            on_chunk,
        )

    def _check_duration_factor(self, duration_factor: float) -> None:
        if duration_factor == 1.0:
            return
        if self.generation != "2.5":
            raise TextError("duration_factor: this IndexTTS-2 model has no duration control (IndexTTS-2.5 has)")
        low, high = DURATION_FACTOR_RANGE
        if not low <= duration_factor <= high:
            raise TextError(f"duration_factor must be between {low} and {high}, got {duration_factor}")

    def synthesize_round(
        self, work: Sequence[tuple[RequestPlan, int]], decode_groups: DecodeGroups | None = None
    ) -> Iterator[SegmentAudio | Cancelled]:
        """Segment `index` of each plan: codes generated together, then decoded and yielded in order.

        `decode_groups` gets the solver length of each segment (`decode_frames`) and returns which
        segments to decode together (`decode_batch`); by default each is decoded alone. A streaming
        plan's segment (`on_chunk`) is always decoded alone and before the others (its first audio
        should not wait for theirs), its audio handed over chunk by chunk.
        A plan whose `should_stop` says stop (asked between GPT decode steps, between the diffusion
        steps of a segment decoded alone, and before a batched decode) gets a `Cancelled` in its
        place, not raised: the other plans of the round go on. The two stages: `indextts.rounds`.
        """
        return rounds.synthesize_round(self, work, decode_groups)

    def generate_round(
        self, work: Sequence[tuple[RequestPlan, int]], on_ready: rounds.OnReady | None = None
    ) -> list[rounds.Outcome]:
        """The GPT stage of a round, each segment handed to `on_ready` when done (`indextts.rounds`)."""
        return rounds.generate_round(self, work, on_ready)

    def decode_segments(self, segments: Sequence[rounds.ReadySegment]) -> list[SegmentAudio | Cancelled]:
        """The decode stage for one group of ready segments (`indextts.rounds`)."""
        return rounds.decode_segments(self, segments)

    def infer_stream(
        self, spk_audio_prompt: AudioSource, text: str, progress: Progress | None = None, **kwargs: object
    ) -> Iterator[SegmentAudio]:
        """Synthesise segment by segment (arguments as `plan`); each is yielded as soon as it is ready."""
        report = progress or (lambda fraction, stage: None)
        report(0.0, "prompt")
        plan = self.plan(spk_audio_prompt, text, **kwargs)  # type: ignore[arg-type]
        count = len(plan.segments)
        for index in range(count):
            report(0.2 + 0.7 * index / count, f"segment {index + 1}/{count}")
            for segment in self.synthesize_round([(plan, index)]):
                if isinstance(segment, Cancelled):
                    raise segment
                yield segment
        report(0.9, "finishing")
        report(1.0, "done")

    def infer_chunks(
        self,
        spk_audio_prompt: AudioSource,
        text: str,
        first_segment_tokens: int = DEFAULT_FIRST_SEGMENT_TOKENS,
        **kwargs: object,
    ) -> Iterator[AudioChunk]:
        """Stream with the least wait for the first audio: a short first segment, and each segment's
        audio in vocoder chunks as they are made, each with the span of `text` it says (arguments
        as `plan`; `first_segment_tokens=0` keeps the official segmentation)."""
        plan = self.plan(spk_audio_prompt, text, first_segment_tokens=first_segment_tokens, **kwargs)  # type: ignore[arg-type]
        yield from stream_chunks(self, plan)

    def synthesize(
        self, spk_audio_prompt: AudioSource, text: str, interval_silence: int = 200, **kwargs: object
    ) -> SynthesisResult:
        """The whole utterance as one result (int16 samples, per-segment details, stage timings)."""
        started = self._now()
        segments = list(self.infer_stream(spk_audio_prompt, text, **kwargs))  # type: ignore[arg-type]
        pieces: list[np.ndarray] = []
        gap = np.zeros(silence_samples(interval_silence, self.sample_rate), dtype=np.float32)
        for segment in segments:
            if pieces and gap.size:
                pieces.append(gap)
            pieces.append(segment.samples)
        timings = StageTimings()
        for segment in segments:
            timings.add(segment.timings)
        audio = to_int16(np.concatenate(pieces))
        return SynthesisResult(self.sample_rate, audio, segments, timings, self._now() - started)

    def infer(
        self,
        spk_audio_prompt: AudioSource,
        text: str,
        output_path: str | Path | None = None,
        interval_silence: int = 200,
        **kwargs: object,
    ) -> Path | tuple[int, np.ndarray]:
        """Official-style result: the written path, or (22050, int16 array of shape (n, 1))."""
        result = self.synthesize(spk_audio_prompt, text, interval_silence, **kwargs)
        if output_path is None:
            return result.sample_rate, result.audio.reshape(-1, 1)
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(output_path, result.audio, result.sample_rate, subtype="PCM_16")
        return output_path

    # --- helpers ---------------------------------------------------------------------------------

    def _now(self) -> float:
        """A wall-clock reading after the device has finished what was queued (honest stage timings)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _autocast(self) -> torch.autocast:
        enabled = self.dtype != torch.float32
        return torch.autocast(self.device.type, dtype=self.dtype if enabled else torch.bfloat16, enabled=enabled)

    def _generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(seed)


IndexTTS2 = IndexTTS  # the name of the 2.0-only engine; kept so existing code keeps working
