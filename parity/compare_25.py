"""Comparing side of the 2.5 parity tooling: our engine on the reference's cases and inputs, errors per stage.

Runs in the project's `.venv` after `reference_dump_25.py` wrote its file:

    .venv/bin/python parity/compare_25.py --model-dir DIR --cases parity/cases_25.json --ref .parity/ref-2.5.pt

Stages, per case (rows and verdicts as in compare.py: ids and codes identical, floats within
--rtol of max |ref|):
- text: our 2.5 front end's segments and ids for the case's text and language against the
  official `"<|lang|> " + segment` ids (with the appended 1), and the language row;
- prompts: standardised w2v-BERT features of speaker and emotion audio, CAMPPlus style,
  reference mel, prompt condition (length regulator over the raw features, not codec output);
- per segment: final emotion vector, speaker latent (spk_emb_proj(style)), GPT logits at every
  step fed the reference's codes, greedy codes generated freely, S_infer (codec decode of the
  reference's codes), the length-regulated condition (duration factor applied), the mel from the
  reference's noise, the vocoder on the reference mel, the end-to-end wave (information only).

A stage our engine cannot compute yet is a "not run" row with the reason; it counts as a miss,
so the table never passes by leaving stages out. Everything engine-specific is in `Ours25`.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# This checkout's `indextts`, not whichever one the venv's editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from compare import Row, exact_row, float_row, print_table  # the sibling 2.0 script

TOKENIZER_FILE = "multilingual_zh_ja_yue_char_del.tiktoken"


def not_run(case: str, stage: str, exc: BaseException) -> Row:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return Row(case, stage, None, None, False, f"not run: {type(exc).__name__}: {exc}{where}"[:160])


def attempt(rows: list[Row], case: str, stage: str, fn: Callable[[], Row | list[Row]]) -> None:
    try:
        out = fn()
    except Exception as exc:  # a missing or renamed piece of our engine: reported, never hidden
        rows.append(not_run(case, stage, exc))
        return
    rows.extend(out if isinstance(out, list) else [out])


class Ours25:
    """The calls into our 2.5 engine this comparison needs, in one place.

    Written against the issue-22 interface contract (indextts.text.multilingual,
    indextts.text.frontend_v25) and the 2.0 facade's shape (`speaker`, `emotion_vector`,
    `models.gpt/codec/s2mel/vocoder`); adjust here when the 2.5 facade names differ.
    """

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._engine: Any = None
        self._engine_error: BaseException | None = None

    # --- text (issue22text's contract) -------------------------------------------------------------

    def tokenizer(self):
        from indextts.text.multilingual import MultilingualTokenizer

        return MultilingualTokenizer.from_file(self.model_dir / TOKENIZER_FILE)

    def segment_ids(self, text: str, language: str, max_tokens: int) -> list[list[int]]:
        return [list(s.ids) for s in self.engine.split_segments(text, max_tokens, language=language)]

    # --- model -------------------------------------------------------------------------------------

    @property
    def engine(self) -> Any:
        if self._engine is None and self._engine_error is None:
            try:
                from indextts.pipeline import IndexTTS

                self._engine = IndexTTS(self.model_dir, device="cpu", dtype="float32")
            except Exception as exc:  # the layout not loadable by our engine: every model row says so
                self._engine_error = exc
        if self._engine_error is not None:
            raise RuntimeError(f"our engine cannot load this checkpoint: {self._engine_error}")
        return self._engine

    def speaker(self, path: Path) -> Any:
        return self.engine.speaker(path)  # .spk_cond_emb .style .ref_mel .prompt_condition

    def emotion_features(self, path: Path) -> torch.Tensor:
        return self.engine.models.prompts.emotion(path).emo_cond_emb

    def emotion_vector(self, speaker_path: Path, text: str, case: dict, base: Path) -> torch.Tensor:
        from compare import emotion_request

        return self.engine.emotion_vector(speaker_path, text, emotion_request(case, base))

    def speaker_latent(self, speaker: Any) -> torch.Tensor:
        return self.engine.models.gpt.speaker_latent(speaker.style)  # spk_emb_proj(style), (1, 1, C)

    def prefix(self, speaker: Any, emovec: torch.Tensor, ids: torch.Tensor, language_index: int) -> torch.Tensor:
        gpt = self.engine.models.gpt
        conditioning = gpt.conditioning(self.speaker_latent(speaker), emovec)  # (1, 3, C)
        return gpt.prefix(conditioning, ids, language_index)  # (1, 3 + L' + 2, C)

    def step_logits(self, prefix: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        from compare import step_logits

        return step_logits(self.engine, prefix, codes)

    def greedy_codes(self, prefix: torch.Tensor, max_mel_tokens: int) -> torch.Tensor:
        from indextts.gpt.generation import GenerationSettings, generate_codes

        settings = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=max_mel_tokens)
        return generate_codes(self.engine.models.gpt, prefix, settings).codes

    def s_infer(self, codes: torch.Tensor) -> torch.Tensor:
        return self.engine.models.codec.decode(codes.view(1, -1))  # (1, 2N, H)

    def regulated(self, codes: torch.Tensor, s_infer: torch.Tensor, duration_factor: float) -> torch.Tensor:
        return self.engine.models.content(codes, s_infer, duration_factor)  # (1, int(2N*1.72*f), C)

    def mel(self, speaker: Any, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        from indextts.pipeline import CFG_RATE, DIFFUSION_STEPS

        s2mel = self.engine.models.s2mel
        return s2mel.generate_mel(
            speaker.prompt_condition, cond, speaker.ref_mel, speaker.style, DIFFUSION_STEPS, CFG_RATE, noise=noise
        )

    def vocoder(self, mel: torch.Tensor) -> torch.Tensor:
        return self.engine.models.vocoder(mel)

    def decode(self, speaker: Any, codes: torch.Tensor, s_infer: torch.Tensor, noise: torch.Tensor, factor: float):
        mel, wav, _ = self.engine.decode(speaker, codes, s_infer, noise=noise, duration_factor=factor)
        return mel, wav


def text_rows(ours: Ours25, name: str, case: dict, ref: dict) -> list[Row]:
    rows: list[Row] = []
    lang = case["lang"]
    ref_segments = [seg["text_ids"].reshape(-1).tolist() for seg in ref["segments"]]

    def lang_row() -> Row:
        index = ours.tokenizer().language_index(lang)
        return exact_row(name, "language index (lang_embedding row)", [index], ref["segments"][0]["lang_index"])

    def ids_rows() -> list[Row]:
        tok = ours.tokenizer()
        out = []
        for i, seg_text in enumerate(ref.get("segments_text", [])):
            ids = tok.encode_segment(seg_text, lang)
            # The official GPT input is encode("<|lang|> " + segment) plus one appended id 1; accept
            # either split of that last step between tokenizer and GPT, and say which one it was.
            want = ref_segments[i] if len(ids) == len(ref_segments[i]) else ref["segment_ids"][i]
            note = "" if len(ids) == len(ref_segments[i]) else "(compared without the appended id 1)"
            out.append(exact_row(name, f"token ids of the official segment text [seg {i}]", ids, want, note))
        return out

    def segmentation_row() -> Row:
        max_tokens = int(case.get("max_text_tokens_per_segment", 120))
        ours_ids = ours.segment_ids(case["text"], lang, max_tokens)
        same = ours_ids == ref_segments or ours_ids == ref.get("segment_ids")
        mine, theirs = [i for seg in ours_ids for i in seg], [i for seg in ref_segments for i in seg]
        pairs = enumerate(zip(mine, theirs, strict=False))
        first = next((k for k, (a, b) in pairs if a != b), min(len(mine), len(theirs)))
        note = (
            ""
            if same
            else (
                f"ours {len(ours_ids)} segment(s), official {len(ref_segments)} {ref.get('segments_text')}; "
                f"ids first differ at {first}: ours {mine[first : first + 3]}, official {theirs[first : first + 3]}"
            )
        )
        return Row(name, "front end: normalise + segment + ids", None, None, same, note[:200])

    attempt(rows, name, "language index", lang_row)
    attempt(rows, name, "token ids", ids_rows)
    attempt(rows, name, "front end: normalise + segment + ids", segmentation_row)
    return rows


@torch.inference_mode()
def compare_case(ours: Ours25, name: str, case: dict, ref: dict, base: Path, rtol: float) -> list[Row]:
    rows = text_rows(ours, name, case, ref)
    speaker_path = base / case["spk_audio"]
    holder: dict[str, Any] = {}

    def prompts() -> list[Row]:
        speaker = holder["speaker"] = ours.speaker(speaker_path)
        return [
            float_row(name, "w2v-BERT features (speaker)", speaker.spk_cond_emb, ref["spk_cond_emb"]),
            float_row(name, "style vector (CAMPPlus)", speaker.style, ref["style"]),
            float_row(name, "reference mel", speaker.ref_mel, ref["ref_mel"]),
            float_row(name, "prompt condition (raw features)", speaker.prompt_condition, ref["prompt_condition"]),
        ]

    def emotion_features() -> Row:
        emo_path = base / case["emo_audio"] if int(case.get("emo_mode", 0)) == 1 else speaker_path
        return float_row(name, "w2v-BERT features (emotion)", ours.emotion_features(emo_path), ref["emo_cond_emb"])

    attempt(rows, name, "prompts", prompts)
    attempt(rows, name, "w2v-BERT features (emotion)", emotion_features)
    if "speaker" not in holder:
        return rows
    speaker = holder["speaker"]

    def emotion_vector() -> list[Row]:
        emovec = ours.emotion_vector(speaker_path, case["text"], case, base)
        segments = enumerate(ref["segments"])
        return [float_row(name, f"emotion vector [seg {i}]", emovec, s["emovec"]) for i, s in segments]

    attempt(rows, name, "emotion vector", emotion_vector)
    for index, seg in enumerate(ref["segments"]):
        tag = f"[seg {index}]"
        ids = seg["text_ids"].reshape(-1).long()  # the reference's ids: the GPT rows are about the GPT
        lang_index = int(seg["lang_index"].reshape(-1)[0])
        codes = seg["codes"].reshape(-1).long()
        attempt(
            rows,
            name,
            f"speaker latent {tag}",
            lambda seg=seg, tag=tag: float_row(
                name, f"speaker latent {tag}", ours.speaker_latent(speaker), seg["speaker_latent"]
            ),
        )

        def gpt_rows(seg=seg, tag=tag, ids=ids, lang_index=lang_index) -> list[Row]:
            emovec = seg["emovec"].float()  # the reference's, so a miss here is the GPT's own
            prefix = ours.prefix(speaker, emovec, ids, lang_index)
            generated = seg["codes_generated"].reshape(-1).long()
            out = []
            if "gen_logits" in seg:
                logits = ours.step_logits(prefix, generated)
                out.append(float_row(name, f"GPT logits, every step {tag}", logits, seg["gen_logits"]))
            if not seg.get("forced"):
                theirs = seg["codes"].reshape(-1)
                mine = ours.greedy_codes(prefix, int(case.get("max_mel_tokens", 1500)))
                out.append(exact_row(name, f"generated codes, greedy {tag}", mine, theirs))
            return out

        attempt(rows, name, f"GPT {tag}", gpt_rows)

        def decode_rows(seg=seg, tag=tag, codes=codes) -> list[Row]:
            factor = float(case.get("duration_factor", 1.0))
            s_infer = ours.s_infer(codes)
            cond = ours.regulated(codes, seg["S_infer"].float(), factor)
            mel = ours.mel(speaker, seg["cond"].float(), seg["noise_z"].float())
            vocoded = ours.vocoder(seg["mel"].float())
            rows = [
                float_row(name, f"S_infer (codec decode) {tag}", s_infer, seg["S_infer"]),
                float_row(name, f"length-regulated condition {tag}", cond, seg["cond"]),
                float_row(name, f"s2mel mel {tag}", mel, seg["mel"]),
                float_row(name, f"vocoder on the reference mel {tag}", vocoded, seg["wav_vocoder"]),
            ]
            # End to end from the reference's S_infer and noise: information only (a random vocoder is
            # chaotic, see compare.py), with that sensitivity measured and printed beside it.
            _, wav = ours.decode(speaker, codes, seg["S_infer"].float(), seg["noise_z"].float(), factor)
            nudged = ours.vocoder(seg["mel"].float() + 1e-6 * torch.randn_like(seg["mel"].float()))
            gain = (nudged - vocoded).abs().max().item() * 32767
            row = float_row(name, f"final wave x32767, end to end {tag}", wav, seg["wav_segment_pcm"])
            row.counts = False
            row.note = f"(info: a 1e-6 nudge of the mel moves this random vocoder's wave by {gain:.1f} PCM steps)"
            return [*rows, row]

        attempt(rows, name, f"decode {tag}", decode_rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument(
        "--ref", type=Path, required=True, action="append", help="a file reference_dump_25.py wrote (repeatable)"
    )
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--only", action="append", default=[], help="compare only these case names (repeatable)")
    args = parser.parse_args(argv)
    cases = json.loads(args.cases.read_text(encoding="utf-8"))
    cases = cases["cases"] if isinstance(cases, dict) else cases
    reference: dict[str, dict] = {}
    for path in args.ref:  # several dumps (e.g. cases run in parallel processes) read as one
        reference.update(torch.load(path, weights_only=False)["cases"])
    ours = Ours25(args.model_dir.resolve())
    ok = True
    for index, case in enumerate(cases):
        name = case.get("name", f"case{index}")
        if args.only and name not in args.only:
            continue
        if name not in reference:
            rows = [Row(name, "reference dump", None, None, False, "case missing from the reference file")]
        else:
            rows = compare_case(ours, name, case, reference[name], args.cases.parent, args.rtol)
        ok &= print_table(rows, args.rtol)  # case by case: a long run shows its rows as it goes
        sys.stdout.flush()
    print("parity 2.5:", "every stage meets the target" if ok else "some stage misses the target (or did not run)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
