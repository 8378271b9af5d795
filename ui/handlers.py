"""What the UI's events do. Synthesis goes through the node's queue like every other front door;
the segment preview and the status panel only read (no GPU, no queue)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr
import numpy as np

from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS as STREAMING_FIRST_SEGMENT_TOKENS
from serving.jobs import Job, JobState, QueueFullError
from serving.node import Node
from serving.parts import PiecePlacer, StreamedPiece
from serving.request import EMOTION_COUNT, MAX_TEXT_CHARS, EmotionMode, RequestError, parse_request
from serving.sources import AudioSourceError
from serving.stream_protocol import wav_bytes
from ui.i18n import text

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # how often a waiting page hears about queue position and progress


def _stage_text(stage: str, lang: str) -> str:
    if stage.startswith("segment "):
        index, _, count = stage.removeprefix("segment ").partition("/")
        return text("stage_segment", lang, index=index, count=count)
    key = f"stage_{stage}"
    return text(key, lang) if key in _KNOWN_STAGES else stage


_KNOWN_STAGES = {"stage_starting", "stage_prompt", "stage_text", "stage_finishing", "stage_done"}


LENGTH_NOTICE_FROM = 0.8  # the character count shows once the text has used this share of the limit


def _refuse(message: str, reason: object) -> gr.Error:
    """An expected user error: one log line, a message on the page, no traceback."""
    log.warning("webui request refused: %s", reason)
    return gr.Error(message, print_exception=False)


def _read_upload(path: str | None) -> bytes | None:
    """Gradio hands uploads and recordings over as files in its own cache; the node gets the bytes."""
    return Path(path).read_bytes() if path else None


class UiHandlers:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._pages: dict[str, set[str]] = {}  # Gradio session → ids of the jobs that page follows
        self._pages_lock = threading.Lock()

    # --- generation ----------------------------------------------------------------------------

    def build_request(
        self,
        prompt_audio: str | None,
        text_value: str,
        emo_mode: str,
        emo_audio: str | None,
        emo_alpha: float,
        vector: Sequence[float],
        emo_text: str,
        use_random: bool,
        seg_tokens: int,
        sampling: dict[str, object],
        lang: str,
    ) -> dict[str, object]:
        if not prompt_audio:
            raise _refuse(text("error_prompt_missing", lang), "no voice prompt")
        if not (text_value or "").strip():
            raise _refuse(text("error_text_missing", lang), "no text")
        mode = EmotionMode(emo_mode)
        if mode is EmotionMode.AUDIO and not emo_audio:
            raise _refuse(text("error_emo_audio_missing", lang), "emotion-audio mode without a recording")
        seed = sampling.pop("seed", -1)
        return {
            "text": text_value,
            "spk_audio": _read_upload(prompt_audio),
            "emo_mode": mode.value,
            "emo_audio": _read_upload(emo_audio) if mode is EmotionMode.AUDIO else None,
            "emo_alpha": emo_alpha,
            "emo_vector": list(vector) if mode is EmotionMode.VECTOR else None,
            "emo_text": emo_text if mode is EmotionMode.TEXT else None,
            "use_random": use_random,
            "max_text_tokens_per_segment": int(seg_tokens),
            "seed": None if seed is None or int(seed) < 0 else int(seed),
            **sampling,
            "streaming": True,  # the page plays the audio as it is made
        }

    def generate(
        self,
        request: gr.Request,
        lang: str,
        *values: object,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 — Gradio finds its progress hook by this default
    ) -> Iterator[tuple[object, object, object]]:
        """Queue one synthesis and follow it (queue position, then stage and fraction) until its WAV is ready.

        Yields (live audio, result file, info): the live player gets each piece of audio as it is
        made (a small WAV), the result its whole file at the end. The page's Stop button (`stop`)
        cancels the job, and so does the page going away (Gradio then closes this generator).
        """
        (prompt_audio, text_value, emo_mode, emo_audio, emo_alpha, *rest) = values
        vector, (emo_text, use_random, seg_tokens, *sampling_values) = rest[:EMOTION_COUNT], rest[EMOTION_COUNT:]
        # After the sampling settings: the controls only an IndexTTS-2.5 page has, in MODEL_OPTION_FIELDS order.
        sampling_values, option_values = (
            sampling_values[: len(SAMPLING_FIELDS)],
            sampling_values[len(SAMPLING_FIELDS) :],
        )
        present = [name for name in MODEL_OPTION_FIELDS if self._has_option(name)]
        options = dict(zip(present, option_values, strict=True))
        fields = self.build_request(
            prompt_audio,  # type: ignore[arg-type]
            text_value,  # type: ignore[arg-type]
            str(emo_mode),
            emo_audio,  # type: ignore[arg-type]
            float(emo_alpha),  # type: ignore[arg-type]
            [float(v) for v in vector],  # type: ignore[arg-type]
            emo_text,  # type: ignore[arg-type]
            bool(use_random),
            int(seg_tokens),  # type: ignore[call-overload]
            dict(zip(SAMPLING_FIELDS, sampling_values, strict=True)) | options,
            lang,
        )
        try:
            job = self.node.submit(parse_request(fields), origin="webui")
        except RequestError as exc:
            raise _refuse(text("error_request", lang, detail=exc), exc) from None
        except AudioSourceError as exc:
            raise _refuse(text("error_audio", lang, detail=exc), exc) from None
        except QueueFullError as exc:
            raise _refuse(text("error_busy", lang, detail=exc), exc) from None
        session = request.session_hash if request is not None else None
        self._follow_on_page(session, job.id, True)
        try:
            shown, sent, nudge = None, 0, 0  # nudge: the sample rate of a chunk just sent
            placer = PiecePlacer(job.payload.request.interval_silence)
            for fraction, description in self._follow(job, lang):
                progress(fraction, desc=description)
                fresh = job.parts[sent:]
                sent += len(fresh)
                if fresh:
                    live, nudge = _live_chunk([placer.place(part) for part in fresh]), fresh[-1].sample_rate
                else:  # Gradio's encoder hands on what it finished after the last chunk only with the next one
                    live, nudge = (_no_audio(nudge) if nudge else gr.skip()), 0
                # An unchanged line is still yielded: it lets Gradio close this generator when the page goes away.
                yield live, gr.skip(), f"⏳ {description}" if description != shown else gr.skip()
                shown = description
            fresh = job.parts[sent:]  # what came with the job's end
            if fresh and job.state is JobState.COMPLETED:
                yield _live_chunk([placer.place(part) for part in fresh]), gr.skip(), gr.skip()
        finally:
            self._follow_on_page(session, job.id, False)
            if not job.finished:  # Gradio closed this generator: nobody waits for the audio any more
                self.node.queue.cancel(job.id, "the page stopped following it")
        if job.state is JobState.CANCELLED:
            yield gr.skip(), gr.skip(), text("stopped", lang, job=job.id)
            return
        if job.state is not JobState.COMPLETED or job.result is None:
            # The queue has logged the failure with the job id (and a traceback for a real fault).
            raise gr.Error(text("error_failed", lang, detail=job.error or job.state.value), print_exception=False)
        result = job.result
        info = text(
            "result_info", lang, duration=result.duration, seconds=result.processing_time, rtf=result.rtf, job=job.id
        )
        yield gr.skip(), str(result.path), info

    def stop(self, request: gr.Request) -> None:
        """The Stop button: cancel the jobs this page started (running ones stop at their next step)."""
        self._cancel_page(request, "stopped from the web UI")

    def _cancel_page(self, request: gr.Request | None, reason: str) -> None:
        session = request.session_hash if request is not None else None
        with self._pages_lock:
            job_ids = list(self._pages.get(session or "", ()))
        for job_id in job_ids:
            if self.node.queue.cancel(job_id, reason):
                log.info("job %s: %s", job_id, reason)

    def _follow_on_page(self, session: str | None, job_id: str, following: bool) -> None:
        if not session:
            return
        with self._pages_lock:
            jobs = self._pages.setdefault(session, set())
            (jobs.add if following else jobs.discard)(job_id)
            if not jobs:
                del self._pages[session]

    def _follow(self, job: Job, lang: str) -> Iterator[tuple[float, str]]:
        """(fraction, words) for the page until the job finishes."""
        queue, version = self.node.queue, -1
        while not job.finished:
            position = queue.position(job)
            if position > 0:
                yield 0.0, text("queued", lang, ahead=position - 1)
            else:
                yield job.progress, _stage_text(job.stage, lang)
            version = queue.wait(job, version, timeout=POLL_SECONDS * 4)
            time.sleep(POLL_SECONDS)  # coalesce bursts of updates into one message to the page

    # --- read-only helpers -----------------------------------------------------------------------

    def _has_option(self, name: str) -> bool:
        engine = self.node.engine
        return bool(engine.languages) if name == "language" else engine.has_duration_factor

    def preview(self, text_value: str, seg_tokens: float, lang: str, language: str | None = None) -> dict[str, list]:
        """The segments synthesis would make, with their token counts: the page's requests stream, so
        this is the streaming split (a short first segment, then the official one)."""
        headers = [text(key, lang) for key in ("col_index", "col_segment", "col_tokens")]
        if not (text_value or "").strip():
            return {"headers": headers, "data": []}
        try:
            segments = self.node.engine.split_segments(
                text_value,
                int(seg_tokens),
                language=language,  # an IndexTTS-2.5 page: the chosen one ("auto": detected)
                first_segment_tokens=STREAMING_FIRST_SEGMENT_TOKENS,
            )
        except Exception as exc:  # a preview must never break the page
            log.warning("segment preview failed: %s", exc)
            return {"headers": headers, "data": []}
        rows = [[index + 1, segment.text, len(segment.ids)] for index, segment in enumerate(segments)]
        return {"headers": headers, "data": rows}

    def length_notice(self, text_value: str, lang: str) -> str:
        """Near the text limit: the character count and what happens to longer text."""
        count = len(text_value or "")
        if count < LENGTH_NOTICE_FROM * MAX_TEXT_CHARS:
            return ""
        limit = f"{MAX_TEXT_CHARS:,}"
        head = text("text_count", lang, count=f"{count:,}", limit=limit)
        return f"{'⚠️' if count >= MAX_TEXT_CHARS else 'ℹ️'} **{head}** · {text('text_limit_rule', lang, limit=limit)}"

    def vector_note(self, lang: str, *vector: float) -> str:
        from indextts.emotion.vectors import EMOTION_BIAS, EMOTION_SUM_CAP

        total = sum(float(v) * bias for v, bias in zip(vector, EMOTION_BIAS, strict=True))
        lines = [text("vector_sum", lang, total=total)]
        if total == 0:
            lines.append(text("vector_empty", lang))
        elif total > EMOTION_SUM_CAP:
            lines.append(text("vector_capped", lang))
        return "  \n".join(lines)

    def status_markdown(self, lang: str) -> str:
        snap = self.node.status.snapshot()
        if snap.state == "local":
            head = text("status_local", lang)
        elif snap.state == "connected":
            since = time.strftime("%H:%M:%S", time.localtime(snap.connected_since or time.time()))
            head = text(
                "status_connected",
                lang,
                space=snap.space,
                server=snap.server,
                connection_id=snap.connection_id,
                since=since,
            )
        elif snap.state == "error":
            head = text("status_error", lang, error=snap.last_error)
        else:
            head = text(f"status_{snap.state}", lang, server=snap.server, space=snap.space)
        lines = [head]
        if snap.state != "local":
            lines.append(
                text(
                    "status_counters",
                    lang,
                    received=snap.jobs_received,
                    done=snap.jobs_done,
                    failed=snap.jobs_failed,
                    forgotten=snap.jobs_forgotten,
                    undeliverable=snap.jobs_undeliverable,
                    backlog=snap.backlog,
                    mean=snap.mean_processing_time,
                )
            )
            if snap.last_error and snap.state != "error":
                at = time.strftime("%H:%M:%S", time.localtime(snap.last_error_at)) if snap.last_error_at else "?"
                key = "status_old_error" if snap.error_predates_connection else "status_last_error"
                lines.append(text(key, lang, at=at, error=snap.last_error))
        stats = self.node.queue.stats()
        lines.append(
            text(
                "status_queue",
                lang,
                pending=stats.pending,
                running=stats.running,
                completed=stats.completed,
                failed_jobs=stats.failed,
                rtf=stats.mean_rtf,
            )
        )
        return "  \n".join(lines)


def _no_audio(sample_rate: int) -> bytes:
    """An empty chunk: lets the live stream catch up with what its encoder finished meanwhile."""
    return wav_bytes(np.zeros(0, np.int16), sample_rate)


def _live_chunk(pieces: list[StreamedPiece]) -> bytes:
    """New pieces for the live player, as one small WAV (Gradio re-encodes it into its stream)."""
    return wav_bytes(np.concatenate([piece.audio for piece in pieces]), pieces[0].sample_rate)


SAMPLING_FIELDS = (
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
    "num_beams",
    "repetition_penalty",
    "length_penalty",
    "max_mel_tokens",
    "interval_silence",
    "seed",
)
MODEL_OPTION_FIELDS = ("language", "duration_factor")  # IndexTTS-2.5 only, shown when the model has them
