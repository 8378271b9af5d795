"""Reference side of the 2.5 parity tooling: per-stage tensors of the official IndexTTS-2.5 code.

Runs the OFFICIAL repository's `indextts/infer_v2_5.py` (copied at a pinned commit into
`.parity/official-2.5` by `parity/setup_reference_25.sh`) inside `.parity/venv-2.5`, never in
`.venv`: the official package is imported as `indextts`, the same name as ours. Run it so that
our source tree is not on sys.path (this script removes it and puts the official copy first):

    cd .parity && venv-2.5/bin/python ../parity/reference_dump_25.py \
        --model-dir DIR --cases ../parity/cases_25.json --out ref-2.5.pt

Per case: one real `IndexTTS2.infer` call (infer_v2_5) on CPU/fp32 with greedy decoding (top_k=1,
num_beams=1; the official call always samples, top_k=1 leaves one candidate), hooks recording
every stage. Nothing is re-implemented. The checkpoint directory is used unchanged: 2.5 loads
w2v-BERT, CAMPPlus and BigVGAN from `DIR/hf_cache/` itself.

Cases file: a JSON list (or {"cases": [...]}) of objects; paths are relative to the cases file.
    name, spk_audio, text, emo_mode (0-3), emo_audio, emo_alpha, emo_vector, emo_text,
    emo_text_max_new_tokens, max_mel_tokens, max_text_tokens_per_segment, interval_silence,
    generation, codes, noise, seed      as in reference_dump.py (2.0)
    lang             the `lang` argument of infer_v2_5 (zh, en, ja, es, ...; required)
    duration_factor  float, default 1.0
    text_normalization  bool, default true
Output (`torch.save`): {"meta": {...}, "cases": {name: {...case tensors..., "segments": [{...}, ...]}}};
each key is named in a `# key:` comment below and listed in parity/README.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

if "--progress" not in sys.argv:
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch

PARITY_DIR = Path(__file__).resolve().parent
REPO_ROOT = PARITY_DIR.parent
OFFICIAL_DIR = Path(os.environ.get("PARITY_OFFICIAL_25", REPO_ROOT / ".parity" / "official-2.5"))

# Greedy and seed-independent (see reference_dump.py); the rest are infer_v2_5's own defaults.
GREEDY_GENERATION = {
    "top_k": 1,
    "num_beams": 1,
    "top_p": 0.8,
    "temperature": 0.8,
    "repetition_penalty": 10.0,
    "length_penalty": 0.0,
}


def import_official():
    """Import the official `indextts` from OFFICIAL_DIR and prove it is that copy, not our tree."""
    kept = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if (path / "indextts" / "__init__.py").is_file() and path != OFFICIAL_DIR.resolve():
            continue  # our source tree (repo root, or a PYTHONPATH pointing at it)
        kept.append(entry)
    sys.path[:] = [str(OFFICIAL_DIR), *kept]
    import indextts

    got = Path(indextts.__file__).resolve()
    if OFFICIAL_DIR.resolve() not in got.parents:
        raise SystemExit(f"imported the wrong indextts: {got} (expected under {OFFICIAL_DIR})")
    return indextts


def official_commit() -> str:
    marker = OFFICIAL_DIR / "COMMIT"
    return marker.read_text().strip() if marker.is_file() else "unknown"


# --------------------------------------------------------------------------- load checks


def _compare_state(name: str, module: torch.nn.Module, file_sd: dict, notes: list[str]) -> None:
    """The official loaders keep random init for missing or mis-shaped keys without failing: stop here instead.

    A module key absent from the file is fine when its tensor is another, loaded key's tensor
    (after loading, UnifiedVoice aliases gpt.wte to mel_embedding and adds inference_model.*).
    """
    state = module.state_dict()
    loaded_storage = {value.data_ptr() for key, value in state.items() if key in file_sd}
    for key, value in state.items():
        if key not in file_sd and value.data_ptr() in loaded_storage:
            continue
        if key not in file_sd:
            raise SystemExit(f"{name} lacks {key}: the official code would run it with random init")
        if file_sd[key].shape != value.shape:
            raise SystemExit(f"{name}.{key}: shape {tuple(file_sd[key].shape)} != {tuple(value.shape)}")
        if not torch.equal(file_sd[key].to(value.dtype), value):
            raise SystemExit(f"{name}.{key} did not load")
    extra = sorted(set(file_sd) - set(state))
    if extra:
        notes.append(f"{name}: {len(extra)} keys ignored by the official code, e.g. {extra[:3]}")


def check_loaded(tts: Any, model_dir: Path) -> list[str]:
    """Key by key: gpt.pth (strict=False upstream), codec.pth and s2mel.pth (shape-filtered), w2v-BERT (HF)."""
    from safetensors import safe_open

    notes: list[str] = []
    gpt_sd = torch.load(model_dir / tts.cfg.gpt_checkpoint, map_location="cpu", mmap=True)
    _compare_state("gpt.pth", tts.gpt, gpt_sd.get("model", gpt_sd), notes)
    codec_sd = torch.load(model_dir / "codec.pth", map_location="cpu", mmap=True)["model"]
    _compare_state("codec.pth", tts.semantic_codec, codec_sd, notes)
    net = torch.load(model_dir / tts.cfg.s2mel_checkpoint, map_location="cpu", mmap=True)["net"]
    for name, module in tts.s2mel.models.items():
        file_sd = {k.removeprefix("module."): v for k, v in net.get(name, {}).items()}
        _compare_state(f"s2mel.pth net.{name}", module, file_sd, notes)
    unused = sorted(set(net) - set(tts.s2mel.models))
    if unused:
        notes.append(f"s2mel.pth: modules unused by 2.5: {unused}")
    model_sd = tts.semantic_model.state_dict()
    seen = set()
    for path in sorted((model_dir / "hf_cache" / "w2v-bert-2.0").glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                if key in model_sd:
                    seen.add(key)
                    if not torch.equal(f.get_tensor(key).to(model_sd[key].dtype), model_sd[key]):
                        raise SystemExit(f"w2v-bert-2.0 {key} differs from the file")
    missing = [k for k in model_sd if k not in seen]
    if missing:
        raise SystemExit(f"w2v-bert-2.0 weights lack {missing[:5]} (HF initialised them randomly)")
    return notes


# --------------------------------------------------------------------------- cases


def load_cases(path: Path) -> list[dict]:
    from reference_dump import load_cases as load_cases_20

    cases = load_cases_20(path)  # same fields, paths and checks as 2.0
    for case in cases:
        if not case.get("lang"):
            raise SystemExit(f"{case['name']}: a 2.5 case needs `lang` (zh, en, ja, es, ...)")
    return cases


def infer_kwargs(tts: Any, case: dict) -> dict:
    """Arguments of infer_v2_5.IndexTTS2.infer for the case (emotion mapping as the official WebUI)."""
    mode = int(case.get("emo_mode", 0))
    kw: dict[str, Any] = {
        "spk_audio_prompt": case["spk_audio"],
        "text": case["text"],
        "output_path": None,
        "lang": case["lang"],
        "emo_alpha": float(case.get("emo_alpha", 1.0)),
        "use_random": False,
        "interval_silence": int(case.get("interval_silence", 200)),
        "max_text_tokens_per_segment": int(case.get("max_text_tokens_per_segment", 120)),
        "max_mel_tokens": int(case.get("max_mel_tokens", 1500)),
        "duration_factor": float(case.get("duration_factor", 1.0)),
        "text_normalization": bool(case.get("text_normalization", True)),
        **GREEDY_GENERATION,
        **case.get("generation", {}),
    }
    if mode == 1:
        kw["emo_audio_prompt"] = case["emo_audio"]
    elif mode == 2:
        vec = [float(x) for x in case["emo_vector"]]
        kw["emo_vector"] = tts.normalize_emo_vec(vec, apply_bias=True) if case.get("normalize_emo_vec") else vec
    elif mode == 3:
        kw["use_emo_text"] = True
        kw["emo_text"] = case.get("emo_text")
    return kw


# --------------------------------------------------------------------------- instrumentation


def _t(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu").clone()
    if isinstance(x, (list, tuple)):
        return [_t(v) for v in x]
    if isinstance(x, dict):
        return {k: _t(v) for k, v in x.items()}
    return x


def generator_locals() -> dict:
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "infer_generator":
        frame = frame.f_back
    return dict(frame.f_locals) if frame is not None else {}


class Recorder:
    """Wraps/hooks the official objects once; records into `self.rec` while a case runs."""

    def __init__(self, tts: Any, infer_module: Any) -> None:
        self.case: dict | None = None
        self.rec: dict = {}
        self.phase = "idle"  # "seg" once the first segment's emotion vector is merged
        self._install(tts, infer_module)

    @property
    def seg(self) -> dict:
        return self.rec["segments"][-1]

    def _wrap(self, obj: Any, name: str, after) -> None:
        original = getattr(obj, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            if self.case is not None:
                after(args, kwargs, out)
            return out

        setattr(obj, name, wrapper)

    def _install(self, tts: Any, infer_module: Any) -> None:
        s2mel = tts.s2mel.models

        # Wav2Vec2BertModel inputs, in call order: speaker (twice: spk_cond_emb and S_ref), then emotion.
        # key: w2v_input_features [list of (1, T, 160)]
        def w2v_pre(module, args, kwargs):
            if self.case is not None:
                self.rec.setdefault("w2v_input_features", []).append(_t(kwargs.get("input_features")))

        tts.semantic_model.register_forward_pre_hook(w2v_pre, with_kwargs=True)

        # CAMPPlus input (mean-normalised kaldi fbank) and output. key: campplus_fbank (1, T, 80)
        def campplus_pre(module, args):
            if self.case is not None:
                self.rec["campplus_fbank"] = _t(args[0])

        tts.campplus_model.register_forward_pre_hook(campplus_pre)

        # Text front end. key: text_cleaned_in (the text after the char_rep_map pass is what
        # normalize() gets), text_normalized (WeTextProcessing zh/en or NeMo es/ja output),
        # text_ja_spaced (fugashi spacing, ja only), text_final (what split_text_by_tokens gets),
        # segments_text (list of str)
        self._wrap(tts.text_process, "normalize", lambda a, k, out: self.rec.__setitem__("text_normalized", out))
        original_nemo = infer_module.nemo_text_normalize

        @functools.wraps(original_nemo)
        def nemo(text, lang, *args, **kwargs):
            out = original_nemo(text, lang, *args, **kwargs)
            if self.case is not None:
                self.rec["text_normalized"] = out
            return out

        infer_module.nemo_text_normalize = nemo
        self._wrap(
            tts.ja_text_process, "process_ja_text", lambda a, k, out: self.rec.__setitem__("text_ja_spaced", out)
        )

        def after_split(args, kwargs, out):
            self.rec["text_final"] = args[0]
            self.rec["segments_text"] = list(out)

        self._wrap(tts, "split_text_by_tokens", after_split)

        # QwenEmotion (mode 3), as in 2.0. key: emo_text_vector (8 floats), emo_text_generated_ids
        if getattr(tts, "qwen_emo", None) is not None:
            self._wrap(
                tts.qwen_emo,
                "inference",
                lambda a, k, out: self.rec.__setitem__("emo_text_vector", [float(v) for v in out.values()]),
            )
            qwen_generate = tts.qwen_emo.model.generate

            @functools.wraps(qwen_generate)
            def capped_generate(*args, **kwargs):
                cap = self.case.get("emo_text_max_new_tokens") if self.case is not None else None
                if cap is not None:
                    kwargs["max_new_tokens"] = min(int(cap), int(kwargs.get("max_new_tokens", cap)))
                out = qwen_generate(*args, **kwargs)
                if self.case is not None:
                    self.rec["emo_text_generated_ids"] = _t(out)
                return out

            tts.qwen_emo.model.generate = capped_generate

        # UnifiedVoice.merge_emovec, once per segment. key (per segment): emovec_audio (1, C);
        # per case, read from infer_generator's frame: emo_alpha_used, emo_weight_vector (8,),
        # emovec_mat (1, C) in modes 2/3
        def after_merge(args, kwargs, out):
            self.rec["segments"].append({})
            self.phase = "seg"
            self.seg["emovec_audio"] = _t(out)
            if "emo_alpha_used" not in self.rec:
                local = generator_locals()
                self.rec["emo_alpha_used"] = float(kwargs.get("alpha", local.get("emo_alpha", 1.0)))
                for src, key in (("weight_vector", "emo_weight_vector"), ("emovec_mat", "emovec_mat")):
                    if isinstance(local.get(src), torch.Tensor):
                        self.rec[key] = _t(local[src])

        self._wrap(tts.gpt, "merge_emovec", after_merge)

        # UnifiedVoice.inference_speech. key (per segment): text_ids (1, L) int32 as given (the
        # "<|lang|> " + segment ids with the appended 1), lang_index (1,) row of lang_embedding,
        # emovec (1, C) final emotion vector, campplus_embedding (1, 192) = style,
        # speaker_latent (1, 1, C) = spk_emb_proj(style), codes_generated (1, N') raw (stop incl.),
        # gen_logits (steps, 8194) raw mel_head logits per step, forced (bool)
        gpt = tts.gpt
        original_speech = gpt.inference_speech

        def forced_inference_speech(speech_condition, text_inputs, langs=None, *args, **kwargs):
            latent = gpt.spk_emb_proj(kwargs["campplus_embedding"])  # the official first step
            latent = latent.unsqueeze(0) if latent.ndim != 3 else latent
            forced = self.case["codes"][len(self.rec["segments"]) - 1]
            codes = forced.reshape(-1).tolist() if isinstance(forced, torch.Tensor) else [int(c) for c in forced]
            return torch.tensor([[*codes, gpt.stop_mel_token]], dtype=torch.long), latent

        @functools.wraps(original_speech)
        def inference_speech(speech_condition, text_inputs, langs=None, *args, **kwargs):
            if self.case is None:
                return original_speech(speech_condition, text_inputs, langs, *args, **kwargs)
            seg = self.seg
            seg["text_ids"] = _t(text_inputs)
            seg["lang_index"] = _t(langs)
            seg["emovec"] = _t(kwargs.get("emo_vec"))
            seg["campplus_embedding"] = _t(kwargs.get("campplus_embedding"))
            seg["gen_logits"] = []
            forced = self.case["codes"] is not None
            if forced and len(self.case["codes"]) < len(self.rec["segments"]):
                raise SystemExit(f"{self.case['name']}: fewer forced code lists than segments")
            fn = forced_inference_speech if forced else original_speech
            codes, latent = fn(speech_condition, text_inputs, langs, *args, **kwargs)
            seg["forced"] = forced
            seg["codes_generated"] = _t(codes)
            seg["speaker_latent"] = _t(latent)
            if seg["gen_logits"]:
                seg["gen_logits"] = torch.cat(seg["gen_logits"], dim=0)
            else:
                del seg["gen_logits"]
            return codes, latent

        gpt.inference_speech = inference_speech

        def step_hook(module, args, out):
            if self.case is not None and self.phase == "seg" and isinstance(self.seg.get("gen_logits"), list):
                logits = out.logits if hasattr(out, "logits") else out[0]
                self.seg["gen_logits"].append(_t(logits[:, -1, :].float()))

        gpt.inference_model.register_forward_hook(step_hook)

        # EnhancedCodec.decode. key (per segment): codes (1, N) as decoded (cut at the stop token),
        # S_infer (1, 2N, 1024) = decoder(vq2emb(codes)) -> nearest x2 -> up conv
        def after_decode(args, kwargs, out):
            self.seg["codes"] = _t(args[0])
            self.seg["S_infer"] = _t(out)

        self._wrap(tts.semantic_codec, "decode", after_decode)

        # InterpolateRegulator: once per case on the standardised w2v-BERT features (prompt), then
        # once per segment on S_infer. key: prompt_condition (1, T_ref, C); per segment: cond
        # (1, int(2N*1.72*duration_factor), C), target_length (int)
        def regulator_hook(module, args, kwargs, out):
            if self.case is None:
                return
            if self.phase == "seg":
                self.seg["cond"] = _t(out[0])
                self.seg["target_length"] = int(kwargs["ylens"].reshape(-1)[0])
            else:
                self.rec["prompt_condition"] = _t(out[0])

        s2mel["length_regulator"].register_forward_hook(regulator_hook, with_kwargs=True)

        # CFM.inference, seeded right before the noise draw (as in 2.0).
        # key (per segment): cat_condition (1, T_ref+T_gen, C), mel_full (1, 80, T_ref+T_gen), noise_seed
        cfm = s2mel["cfm"]
        original_cfm = cfm.inference

        @functools.wraps(original_cfm)
        def cfm_inference(mu, x_lens, *args, **kwargs):
            if self.case is None:
                return original_cfm(mu, x_lens, *args, **kwargs)
            seed = int(self.case.get("seed", 0)) + len(self.rec["segments"]) - 1
            self.seg["noise_seed"] = seed
            torch.manual_seed(seed)
            out = original_cfm(mu, x_lens, *args, **kwargs)
            self.seg["cat_condition"] = _t(mu)
            self.seg["mel_full"] = _t(out)
            return out

        cfm.inference = cfm_inference

        # CFM.solve_euler gets the start noise. key (per segment): noise_z (1, 80, T_ref+T_gen), noise_injected
        original_solve = cfm.solve_euler

        @functools.wraps(original_solve)
        def solve_euler(x, *args, **kwargs):
            if self.case is not None:
                noise = self.case["noise"]
                if noise is not None:
                    z = noise[len(self.rec["segments"]) - 1].to(dtype=x.dtype, device=x.device)
                    if z.shape != x.shape:
                        raise SystemExit(f"{self.case['name']}: noise {tuple(z.shape)} != {tuple(x.shape)}")
                    x = z.clone()
                self.seg["noise_injected"] = noise is not None
                self.seg["noise_z"] = _t(x)
            return original_solve(x, *args, **kwargs)

        cfm.solve_euler = solve_euler

        # BigVGAN. key (per segment): mel (1, 80, T_gen) vocoder input, wav_vocoder (1, 1, T_gen*256) raw
        def vocoder_pre(module, args):
            if self.case is not None:
                self.seg["mel"] = _t(args[0])

        def vocoder_hook(module, args, out):
            if self.case is not None:
                self.seg["wav_vocoder"] = _t(out)

        tts.bigvgan.register_forward_pre_hook(vocoder_pre)
        tts.bigvgan.register_forward_hook(vocoder_hook)

        # insert_interval_silence gets the per-segment waves already x32767 and clamped (2.5 scales
        # before the list, 2.0 after). key: wav_pcm (1, n) float = their concatenation with the
        # silences; per segment: wav_segment_pcm (1, n_i)
        def after_silence(args, kwargs, out):
            for seg, wav in zip(self.rec["segments"], args[0], strict=True):
                seg["wav_segment_pcm"] = _t(wav)
            self.rec["wav_pcm"] = _t(torch.cat(out, dim=1)) if out else None

        self._wrap(tts, "insert_interval_silence", after_silence)


# --------------------------------------------------------------------------- main


def reset_caches(tts: Any) -> None:
    """Every case recomputes (and so records) its speaker and emotion conditioning."""
    for name in ("spk_cond", "s2mel_style", "s2mel_prompt", "spk_audio_prompt", "emo_cond", "emo_audio_prompt", "mel"):
        setattr(tts, f"cache_{name}", None)


def run_case(tts: Any, recorder: Recorder, case: dict) -> dict:
    reset_caches(tts)
    torch.manual_seed(int(case.get("seed", 0)))
    random.seed(int(case.get("seed", 0)))
    kwargs = infer_kwargs(tts, case)
    recorder.case, recorder.rec, recorder.phase = case, {"segments": []}, "idle"
    t0 = time.perf_counter()
    try:
        result = tts.infer(**kwargs)  # -> (22050, int16 array (n, 1)) without output_path
    finally:
        recorder.case, recorder.phase = None, "idle"
    rec = recorder.rec
    rec["seconds"] = time.perf_counter() - t0
    rec["infer_kwargs"] = {k: v for k, v in kwargs.items() if k != "output_path"}
    # Read back from the official cache (set by this very call). key: spk_cond_emb (1, T, 1024)
    # standardised w2v-BERT layer 17 of the speaker, style (1, 192) CAMPPlus, ref_mel (1, 80, T_mel),
    # emo_cond_emb (1, T', 1024) of the emotion audio (the speaker's in modes 0/2/3)
    rec["spk_cond_emb"] = _t(tts.cache_spk_cond)
    rec["style"] = _t(tts.cache_s2mel_style)
    rec["ref_mel"] = _t(tts.cache_mel)
    rec["emo_cond_emb"] = _t(tts.cache_emo_cond)
    if result is not None:
        rec["sampling_rate"] = int(result[0])
        rec["wav_int16"] = torch.from_numpy(result[1].copy())  # key: wav_int16 (n, 1), the official output
    if rec.get("segments_text"):
        # key: segment_ids [list of lists] = tokenizer.encode("<|lang|> " + segment, allowed_special="all")
        prefix = f"<|{case['lang'].lower()}|> "
        rec["segment_ids"] = [tts.tokenizer.encode(prefix + s, allowed_special="all") for s in rec["segments_text"]]
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, type=Path, help="IndexTTS-2.5 checkpoint directory")
    parser.add_argument("--cases", required=True, type=Path, help="cases JSON (see module docstring)")
    parser.add_argument("--out", required=True, type=Path, help="torch.save output file")
    parser.add_argument("--only", action="append", default=[], help="run only these case names (repeatable)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--progress", action="store_true", help="keep tqdm progress bars")
    args = parser.parse_args(argv)

    # Everything 2.5 loads is a local folder of the checkpoint: keep the hub offline (set before
    # transformers / huggingface_hub are imported: they read these at import).
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    model_dir = args.model_dir.resolve()
    cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if c["name"] in set(args.only)]
    indextts = import_official()
    import importlib.metadata as md

    import indextts.infer_v2_5 as infer_module

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    tts = infer_module.IndexTTS2(
        cfg_path=str(model_dir / "config.yaml"),
        model_dir=str(model_dir),
        device="cpu",
        use_cuda_kernel=False,
        use_qwen_emo=any(int(c.get("emo_mode", 0)) == 3 for c in cases),
    )
    load_seconds = time.perf_counter() - t0
    notes = check_loaded(tts, model_dir)
    recorder = Recorder(tts, infer_module)
    meta = {
        "reference": f"index-tts/index-tts {official_commit()} indextts/infer_v2_5.py",
        "package_file": indextts.__file__,
        "versions": {n: md.version(n) for n in ("torch", "transformers", "tiktoken", "nemo-text-processing")},
        "model_dir": str(model_dir),
        "device": "cpu",
        "dtype": "float32",
        "generation": GREEDY_GENERATION,
        "load_seconds": load_seconds,
        "load_notes": notes,
        "torch_threads": torch.get_num_threads(),
    }
    print(f"reference-2.5: {meta['reference']}; loaded in {load_seconds:.1f} s", flush=True)
    for note in notes:
        print(f"reference-2.5: note: {note}", flush=True)
    out_cases = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for case in cases:
        rec = run_case(tts, recorder, case)
        out_cases[case["name"]] = rec
        segs = rec["segments"]
        print(
            f"reference-2.5: {case['name']}: {len(segs)} segment(s), codes {[s['codes'].shape[-1] for s in segs]}, "
            f"{rec['seconds']:.1f} s",
            flush=True,
        )
        # Written after every case, so a long run can be compared while it goes on.
        meta["max_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        torch.save({"meta": meta, "cases": out_cases}, args.out)
    print(f"reference-2.5: wrote {args.out} (peak RSS {meta['max_rss_gib']:.1f} GiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
