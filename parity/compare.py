"""Comparing side of the parity tooling: run our engine on the reference's cases and inputs, print errors per stage.

Runs in the project's own `.venv` (our `indextts`), after `reference_dump.py` wrote `ref.pt`:

    .venv/bin/python parity/compare.py --model-dir DIR --cases cases.json --ref .parity/ref.pt

Per case it recomputes every stage with our code and compares it with the reference tensor:
prompt conditioning from the same audio files; the emotion vector for the case's mode; the GPT's
speaker latent, its logits at every generation step (our KV-cached decoder fed the reference's
codes), the greedy codes generated freely, and the teacher-forced latent on the reference's codes;
then s2mel (the reference's codes, latent-free inputs recomputed by us, the reference's noise) and
the vocoder. Errors: max |ours − ref| and that divided by max |ref| ("rel", norm-relative, so values
near zero do not blow it up). Exit status 1 when a stage misses the target (token ids and codes
identical; floats within --rtol, default 1e-4).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from indextts.emotion.control import EmotionRequest
from indextts.gpt.generation import GenerationSettings, generate_codes
from indextts.pipeline import IndexTTS2
from indextts.vocoder import to_pcm16_scale


@dataclass
class Row:
    case: str
    stage: str
    abs_err: float | None
    rel_err: float | None
    exact: bool | None
    note: str = ""
    counts: bool = True  # False: shown for information, not part of the verdict


def float_row(case: str, stage: str, ours: torch.Tensor, ref: torch.Tensor, note: str = "") -> Row:
    ours, ref = ours.detach().float().cpu().reshape(ref.shape), ref.detach().float().cpu()
    diff = (ours - ref).abs().max().item() if ref.numel() else 0.0
    scale = ref.abs().max().item() or 1.0
    return Row(case, stage, diff, diff / scale, None, note)


def exact_row(case: str, stage: str, ours: torch.Tensor | list, ref: torch.Tensor | list, note: str = "") -> Row:
    a = torch.as_tensor(ours).reshape(-1).long().cpu()
    b = torch.as_tensor(ref).reshape(-1).long().cpu()
    same = a.shape == b.shape and bool(torch.equal(a, b))
    if not same and a.shape == b.shape:
        note = note or f"{int((a != b).sum())} of {a.numel()} differ"
    elif not same:
        note = note or f"lengths {a.numel()} vs {b.numel()}"
    return Row(case, stage, None, None, same, note)


def emotion_request(case: dict, base: Path) -> EmotionRequest:
    mode = case.get("emo_mode", 0)
    alpha = case.get("emo_alpha", 1.0)
    if mode == 1:
        return EmotionRequest(emo_audio=base / case["emo_audio"], emo_alpha=alpha)
    if mode == 2:
        return EmotionRequest(emo_vector=case["emo_vector"], emo_alpha=alpha)
    if mode == 3:
        return EmotionRequest(use_emo_text=True, emo_text=case.get("emo_text"), emo_alpha=alpha)
    return EmotionRequest()


def step_logits(engine: IndexTTS2, prefix: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Our raw logits at each step when the decoder is fed `codes` (what the reference chose).

    One teacher-forced pass over [prefix ; start, c_1 … c_{n-1}] with the decode loop's mel
    positions (start at 0, the k-th code at k + 1: the official quirk), through public methods
    only, so this tool does not depend on how the decode loop is organised.
    """
    gpt = engine.models.gpt
    fed = codes.reshape(-1)[:-1]  # (n-1,)
    ids = torch.cat([fed.new_tensor([gpt.cfg.start_mel_token]), fed]).unsqueeze(0)  # (1, n)
    positions = torch.cat([fed.new_tensor([0]), torch.arange(2, fed.numel() + 2, device=fed.device)])  # (n,)
    mel = gpt.embed_mel(ids, positions).to(prefix.dtype)  # (1, n, C)
    hidden = gpt.gpt(torch.cat([prefix, mel], dim=1))  # (1, P+n, C)
    return gpt.logits(hidden[:, prefix.shape[1] :])[0]  # (n, V)


@torch.inference_mode()
def compare_case(engine: IndexTTS2, name: str, case: dict, ref: dict, base: Path) -> list[Row]:
    rows: list[Row] = []
    gpt = engine.models.gpt
    speaker_audio = base / case["spk_audio"]
    speaker = engine.speaker(speaker_audio)
    rows.append(float_row(name, "w2v-BERT features (speaker)", speaker.spk_cond_emb, ref["spk_cond_emb"]))
    rows.append(exact_row(name, "prompt semantic codes", speaker.prompt_codes, ref["prompt_codes"]))
    rows.append(float_row(name, "prompt codec embedding S_ref", speaker.s_ref, ref["S_ref"]))
    rows.append(float_row(name, "style vector (CAMPPlus)", speaker.style, ref["style"]))
    rows.append(float_row(name, "reference mel", speaker.ref_mel, ref["ref_mel"]))
    rows.append(float_row(name, "prompt condition", speaker.prompt_condition, ref["prompt_condition"]))
    request = emotion_request(case, base)
    emo_source = request.emo_audio if request.emo_audio is not None else speaker_audio
    emo = engine.models.prompts.emotion(emo_source)
    rows.append(float_row(name, "w2v-BERT features (emotion)", emo.emo_cond_emb, ref["emo_cond_emb"]))
    emovec = engine.emotion_vector(speaker_audio, case["text"], request)

    segments = engine.split_segments(case["text"], case.get("max_text_tokens_per_segment", 120))
    same_text = [list(s.ids) for s in segments] == [seg["text_ids"].reshape(-1).tolist() for seg in ref["segments"]]
    rows.append(exact_row(name, "text token ids", [i for s in segments for i in s.ids], ref["text_ids_all"]))
    settings = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=case.get("max_mel_tokens", 1500))
    for index, seg in enumerate(ref["segments"]):
        tag = f"[seg {index}]"
        rows.append(float_row(name, f"emotion vector {tag}", emovec, seg["emovec"]))
        ids = seg["text_ids"].reshape(-1).long()  # the reference's ids, so the GPT comparison is about the GPT
        latent_spk = gpt.speaker_latent(speaker.spk_cond_emb)
        rows.append(float_row(name, f"speaker latent {tag}", latent_spk, seg["speaker_latent"]))
        conditioning = gpt.conditioning(latent_spk, emovec)
        prefix = gpt.prefix(conditioning, ids)
        generated = seg["codes_generated"].reshape(-1).long()
        if "gen_logits" in seg:
            rows.append(
                float_row(
                    name, f"GPT logits, every step {tag}", step_logits(engine, prefix, generated), seg["gen_logits"]
                )
            )
        if not seg.get("forced"):
            ours = generate_codes(gpt, prefix, settings)
            stop = engine.models.cfg.gpt.stop_mel_token
            theirs = generated[: (generated == stop).nonzero()[0, 0]] if (generated == stop).any() else generated
            rows.append(exact_row(name, f"generated codes, greedy {tag}", ours.codes, theirs))
        codes = seg["codes"].reshape(-1).long()
        latent = gpt.latent(conditioning, ids, codes)
        rows.append(float_row(name, f"GPT latent (teacher-forced) {tag}", latent, seg["gpt_latent"]))
        if "noise_z" in seg:
            mel, wav, _ = engine.decode(speaker, codes, seg["gpt_latent"].float(), noise=seg["noise_z"].float())
            rows.append(float_row(name, f"s2mel mel {tag}", mel, seg["mel"]))
            vocoded = engine.models.vocoder(seg["mel"].float())
            rows.append(float_row(name, f"vocoder on the reference mel {tag}", vocoded, seg["wav_vocoder"]))
            # A random-weight vocoder is chaotic: it turns float-rounding differences of the mel into whole
            # PCM steps. Measure that gain so the end-to-end wave row can be read against it.
            nudged = engine.models.vocoder(seg["mel"].float() + 1e-6 * torch.randn_like(seg["mel"].float()))
            gain = (to_pcm16_scale(nudged) - to_pcm16_scale(vocoded)).abs().max().item()
            reference_wave = to_pcm16_scale(seg["wav_vocoder"].float())
            row = float_row(name, f"final wave ×32767, end to end {tag}", wav, reference_wave)
            row.counts = False
            row.note = f"(info: a 1e-6 nudge of the mel moves this random vocoder's wave by {gain:.1f} PCM steps)"
            rows.append(row)
    if not same_text:
        rows.append(Row(name, "segmentation", None, None, False, "segments differ (NeMo vs WeText normaliser?)"))
    return rows


def print_table(rows: list[Row], rtol: float) -> bool:
    ok = True
    print(f"{'case':<14} {'stage':<40} {'max abs':>10} {'rel':>10}  result")
    for row in rows:
        if row.exact is not None:
            passed, figures = row.exact, f"{'':>10} {'':>10}"
        else:
            passed = row.rel_err is not None and row.rel_err <= rtol
            figures = f"{row.abs_err:>10.2e} {row.rel_err:>10.2e}"
        ok &= passed or not row.counts
        verdict = ("identical" if row.exact else "ok") if passed else ("DIFFERS" if row.counts else "see note")
        print(f"{row.case:<14} {row.stage:<40} {figures}  {verdict} {row.note}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True, help="the file reference_dump.py wrote")
    parser.add_argument("--rtol", type=float, default=1e-4)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cases = json.loads(args.cases.read_text(encoding="utf-8"))
    cases = cases["cases"] if isinstance(cases, dict) else cases
    reference = torch.load(args.ref, weights_only=False)["cases"]
    engine = IndexTTS2(args.model_dir, device="cpu", dtype="float32")
    rows: list[Row] = []
    for index, case in enumerate(cases):
        name = case.get("name", f"case{index}")
        rows += compare_case(engine, name, case, reference[name], args.cases.parent)
    return 0 if print_table(rows, args.rtol) else 1


if __name__ == "__main__":
    sys.exit(main())
