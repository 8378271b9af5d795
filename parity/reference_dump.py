"""Reference side of the parity tooling: per-stage tensors of the official IndexTTS2 code.

Runs INSIDE the isolated venv made by `parity/setup_reference.sh`, never in `.venv`: the
reference package (`indextts2-inference` 2.1.1, a repackaging of the official code) is imported
as `indextts`, the same name as ours. Run it so that the repo root is not on sys.path:

    cd .parity && venv/bin/python ../parity/reference_dump.py --model-dir DIR --cases cases.json --out ref.pt

What it does, per case: one real `IndexTTS2.infer` call on CPU/fp32 with greedy decoding
(top_k=1, num_beams=1, every other generation setting at the official default), while hooks and
method wrappers record the tensors every stage produces. Nothing is re-implemented except where
noted (the final x32767 scaling, which the package does inline). The checkpoint directory is
used unchanged: the package resolves w2v-BERT, the semantic codec, CAMPPlus and BigVGAN through
the Hugging Face hub cache (repo ids hard-coded in the package), so a temporary HF_HOME is laid
out with symlinks into `DIR/hf_cache/` and the hub is put offline before anything imports it.

Cases file: a JSON list (or {"cases": [...]}) of objects; paths are relative to the cases file.
    name             str, default "case<i>"
    spk_audio        speaker prompt wav (required)
    text             str (required)
    emo_mode         0 same as speaker | 1 emotion audio | 2 emotion vector | 3 emotion text
    emo_audio        mode 1: emotion prompt wav
    emo_alpha        float, default 1.0 (mode 1: blend weight; modes 2/3: vector scale, clamped to [0, 1])
    emo_vector       mode 2: 8 floats [happy, angry, sad, afraid, disgusted, melancholic, surprised, calm]
    normalize_emo_vec  mode 2: apply the package's `normalize_emo_vec` (WebUI bias + 0.8 cap) first; default false
    use_random       must be false (random emotion-prototype rows are not reproducible)
    emo_text         mode 3: emotion text (default: the synthesis text)
    emo_text_max_new_tokens  mode 3: cap on the Qwen emotion model's new tokens (package: 32768)
    max_mel_tokens   int, default 1500
    max_text_tokens_per_segment  int, default 120
    interval_silence int ms, default 200
    generation       dict overriding the greedy generation kwargs below
    codes            forced GPT codes (no stop token): list of ints (one segment), list of lists, or a .pt file
    seed             int, default 0; torch is seeded with seed+segment right before each s2mel solve
    noise            optional .pt file: tensor (1, 80, T_ref+T_gen) or list of them (one per segment),
                     injected as the CFM start noise instead of the seeded draw
Output (`torch.save`): {"meta": {...}, "cases": {name: {...case tensors..., "segments": [{...}, ...]}}};
the key list is in parity/README.md and in the `# key:` comments below.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import resource
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

if "--progress" not in sys.argv:
    # tqdm reads TQDM_* when it is imported, and torch imports it: set before `import torch`.
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # safe before the hub env is set: torch does not read HF_* variables

PARITY_DIR = Path(__file__).resolve().parent
REPO_ROOT = PARITY_DIR.parent

PACKAGE_DIST = "indextts2-inference"
PACKAGE_VERSION = "2.1.1"

# Greedy and seed-independent: top_k=1 leaves one candidate, num_beams=1 takes HF's plain sampling
# path. The other values are the official `infer` defaults (they still act: the repetition penalty
# changes which code is the arg-max). `do_sample` is not listed: the package drops it.
GREEDY_GENERATION = {
    "top_k": 1,
    "num_beams": 1,
    "top_p": 0.8,
    "temperature": 0.8,
    "repetition_penalty": 10.0,
    "length_penalty": 0.0,
}

# Where the package looks for each external component (hf_hub_download / from_pretrained with
# these repo ids) and where the official checkpoint layout keeps it under `hf_cache/`.
# (repo id, path inside the repo or None for "the whole folder", path inside the checkpoint dir)
HUB_COMPONENTS = [
    ("facebook/w2v-bert-2.0", None, "hf_cache/w2v-bert-2.0"),
    ("amphion/MaskGCT", "semantic_codec/model.safetensors", "hf_cache/semantic_codec_model.safetensors"),
    ("funasr/campplus", "campplus_cn_common.bin", "hf_cache/campplus_cn_common.bin"),
    # BigVGAN's repo id is read from config.yaml (vocoder.name); see hub_components().
]
BIGVGAN_FILES = ["config.json", "bigvgan_generator.pt"]
# Any 40-hex string is a valid commit hash for the hub cache; this one is just recognisable.
FAKE_REVISION = hashlib.sha1(b"indextts-parity-reference").hexdigest()


# --------------------------------------------------------------------------- import isolation


def reference_sites() -> set[Path]:
    """Where the reference package may be installed: this venv's site-packages or, for the GPU
    report (bench/gpu_report.sh), the private folder named by INDEXTTS_REFERENCE_SITE."""
    sites = {Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    if os.environ.get("INDEXTTS_REFERENCE_SITE"):
        sites.add(Path(os.environ["INDEXTTS_REFERENCE_SITE"]).resolve())
    return sites


def isolate_sys_path() -> None:
    """Drop every sys.path entry that would shadow the reference package with our `indextts/`."""
    site_dirs = reference_sites()
    kept = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if path not in site_dirs and (path / "indextts" / "__init__.py").is_file():
            continue  # our source tree (repo root, or a PYTHONPATH pointing at it)
        kept.append(entry)
    sys.path[:] = kept


def import_reference_package():
    """Import the reference `indextts` and prove it is the pip package, not our source tree."""
    isolate_sys_path()
    import importlib.metadata as md

    import indextts

    pkg_file = Path(indextts.__file__).resolve()
    sites = reference_sites()
    if not sites & set(pkg_file.parents):
        raise SystemExit(f"imported the wrong indextts: {pkg_file} (expected under one of {sorted(map(str, sites))})")
    version = md.version(PACKAGE_DIST)
    if version != PACKAGE_VERSION:
        raise SystemExit(f"{PACKAGE_DIST} {version} installed, {PACKAGE_VERSION} expected")
    return indextts


# --------------------------------------------------------------------------- HF hub-cache layout


def read_vocoder_repo(model_dir: Path) -> str:
    import yaml

    with open(model_dir / "config.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)["vocoder"]["name"]


def hub_components(model_dir: Path) -> list[tuple[str, str | None, str]]:
    vocoder = read_vocoder_repo(model_dir)
    return HUB_COMPONENTS + [(vocoder, name, f"hf_cache/bigvgan/{name}") for name in BIGVGAN_FILES]


def _link(target: Path, link: Path) -> None:
    if not target.exists():
        raise SystemExit(f"checkpoint file missing: {target}")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def build_hf_home(model_dir: Path, hf_home: Path) -> dict[str, str]:
    """Lay out `hf_home/hub` as a hub cache whose snapshots are symlinks into `model_dir/hf_cache`.

    Layout per repo: models--{org}--{name}/refs/main holds FAKE_REVISION, and
    snapshots/FAKE_REVISION/<path in repo> links to the checkpoint's file. Returns {repo: snapshot}.
    """
    snapshots = {}
    for repo, in_repo, in_ckpt in hub_components(model_dir):
        repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
        snap = repo_dir / "snapshots" / FAKE_REVISION
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(FAKE_REVISION)
        source = (model_dir / in_ckpt).resolve()
        if in_repo is None:
            if not source.is_dir():
                raise SystemExit(f"checkpoint folder missing: {source}")
            for file in sorted(source.rglob("*")):
                if file.is_file():
                    _link(file, snap / file.relative_to(source))
        else:
            _link(source, snap / in_repo)
        snapshots[repo] = str(snap)
    return snapshots


def set_offline_hub_env(hf_home: Path) -> None:
    """Must run before huggingface_hub / transformers are imported: they read these at import."""
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_CACHE"] = str(hf_home / "hub")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
    os.environ.pop("TRANSFORMERS_CACHE", None)


# --------------------------------------------------------------------------- load checks


def check_loaded(tts: Any, model_dir: Path) -> list[str]:
    """Fail when the package silently kept random init for a weight the checkpoint should supply.

    `gpt.pth` (strict), the codec (safetensors strict), CAMPPlus and BigVGAN (strict) fail loudly by
    themselves. Two loaders do not: the package's s2mel loader drops missing or shape-mismatched
    keys without error, and HF `from_pretrained` initialises missing w2v-BERT weights randomly.
    Returns notes about ignored extra keys.
    """
    from safetensors import safe_open

    notes = []
    net = torch.load(model_dir / "s2mel.pth", map_location="cpu", mmap=True)["net"]
    for name, module in tts.s2mel.models.items():
        file_sd = {k.removeprefix("module."): v for k, v in net.get(name, {}).items()}
        for key, value in module.state_dict().items():
            if key not in file_sd:
                raise SystemExit(f"s2mel.pth net.{name} lacks {key}: the package would run it with random init")
            if file_sd[key].shape != value.shape:
                shapes = f"{tuple(file_sd[key].shape)} != {tuple(value.shape)}"
                raise SystemExit(f"s2mel.pth net.{name}.{key}: shape {shapes}")
            if not torch.equal(file_sd[key].to(value.dtype), value):
                raise SystemExit(f"s2mel net.{name}.{key} did not load")
        extra = sorted(set(file_sd) - set(module.state_dict()))
        if extra:
            notes.append(f"s2mel.pth net.{name}: {len(extra)} keys ignored by the package, e.g. {extra[:3]}")
    weights = sorted((model_dir / "hf_cache" / "w2v-bert-2.0").glob("*.safetensors"))
    if not weights:
        notes.append("w2v-bert-2.0 has no *.safetensors: weights not cross-checked")
        return notes
    model_sd = tts.semantic_model.state_dict()
    seen = set()
    for path in weights:  # tensor by tensor: a full load would add the model's size to the peak RSS
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


def _resolve(base: Path, path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else (base / p).resolve())


def _load_per_segment(value: Any, base: Path) -> list | None:
    """A forced-codes / noise entry as a per-segment list (None when absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = torch.load(_resolve(base, value), map_location="cpu")
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list) and value and all(isinstance(x, int) for x in value):
        return [value]
    return list(value)


def load_cases(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cases = data["cases"] if isinstance(data, dict) else data
    base = path.resolve().parent
    out = []
    for i, raw in enumerate(cases):
        case = dict(raw)
        case.setdefault("name", f"case{i}")
        case["spk_audio"] = _resolve(base, case["spk_audio"])
        if case.get("emo_audio"):
            case["emo_audio"] = _resolve(base, case["emo_audio"])
        mode = int(case.get("emo_mode", 0))
        if mode not in (0, 1, 2, 3):
            raise SystemExit(f"{case['name']}: emo_mode must be 0..3")
        if mode == 1 and not case.get("emo_audio"):
            raise SystemExit(f"{case['name']}: emo_mode 1 needs emo_audio")
        if mode == 2 and len(case.get("emo_vector") or []) != 8:
            raise SystemExit(f"{case['name']}: emo_mode 2 needs an 8-value emo_vector")
        if case.get("use_random"):
            raise SystemExit(f"{case['name']}: use_random=True is not reproducible (unseeded random.randint)")
        case["codes"] = _load_per_segment(case.get("codes"), base)
        case["noise"] = _load_per_segment(case.get("noise"), base)
        out.append(case)
    names = [c["name"] for c in out]
    if len(set(names)) != len(names):
        raise SystemExit("case names must be unique")
    return out


def infer_kwargs(tts: Any, case: dict) -> dict:
    """Arguments of `IndexTTS2.infer` for the case's emotion mode (mirrors the WebUI's mapping)."""
    mode = int(case.get("emo_mode", 0))
    kw: dict[str, Any] = {
        "spk_audio_prompt": case["spk_audio"],
        "text": case["text"],
        "output_path": None,
        "emo_alpha": float(case.get("emo_alpha", 1.0)),
        "use_random": False,
        "interval_silence": int(case.get("interval_silence", 200)),
        "max_text_tokens_per_segment": int(case.get("max_text_tokens_per_segment", 120)),
        "max_mel_tokens": int(case.get("max_mel_tokens", 1500)),
        **GREEDY_GENERATION,
        **case.get("generation", {}),
    }
    if mode == 1:
        kw["emo_audio_prompt"] = case["emo_audio"]
    elif mode == 2:
        vec = [float(x) for x in case["emo_vector"]]
        # indextts.infer_v2.IndexTTS2.normalize_emo_vec (what the WebUI applies in mode 2)
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


def infer_generator_locals() -> dict:
    """Locals of the running IndexTTS2.infer_generator call (a read-only peek at inline values)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "infer_generator":
        frame = frame.f_back
    return dict(frame.f_locals) if frame is not None else {}


class Recorder:
    """Wraps the package's stage functions once; records into the current case / segment."""

    def __init__(self, tts: Any, infer_module: Any) -> None:
        self.tts = tts
        self.case: dict | None = None  # the case spec being run
        self.rec: dict = {}  # what this case recorded
        self.phase = "idle"  # "spk" | "emo" | "seg"
        self._install(infer_module)

    @property
    def seg(self) -> dict:
        return self.rec["segments"][-1]

    def _wrap(self, owner: Any, name: str, after) -> None:
        """Replace `owner.name` by a wrapper that calls it, then `after(args, kwargs, result)`."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            if self.case is not None:
                after(args, kwargs, result)
            return result

        setattr(owner, name, wrapper)

    def _install(self, infer_module: Any) -> None:  # one place lists every hook
        tts = self.tts
        s2mel = tts.s2mel.models

        # Phases: the speaker / emotion conditioning helpers run the same sub-stages.
        def spk_conditioning(original):
            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                self.phase = "spk"
                try:
                    out = original(*args, **kwargs)
                finally:
                    self.phase = "idle"
                if self.case is not None:
                    # key: spk_cond_emb, style, prompt_condition, ref_mel
                    # (IndexTTS2._get_speaker_conditioning -> get_emb / campplus_model /
                    #  length_regulator / mel_fn, see the hooks below for the intermediates)
                    for key, value in zip(("spk_cond_emb", "style", "prompt_condition", "ref_mel"), out, strict=True):
                        self.rec[key] = _t(value)
                return out

            return wrapper

        def emo_conditioning(original):
            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                self.phase = "emo"
                try:
                    out = original(*args, **kwargs)
                finally:
                    self.phase = "idle"
                if self.case is not None:
                    self.rec["emo_cond_emb"] = _t(out)  # key: emo_cond_emb (IndexTTS2._get_emotion_conditioning)
                return out

            return wrapper

        tts._get_speaker_conditioning = spk_conditioning(tts._get_speaker_conditioning)
        tts._get_emotion_conditioning = emo_conditioning(tts._get_emotion_conditioning)

        # IndexTTS2._load_and_cut_audio: librosa.load (+15 s cut).
        # key: spk_audio (1, n) at 22050 Hz, emo_audio_16k (1, n) librosa-resampled to 16 kHz.
        def after_load(args, kwargs, out):
            sr = kwargs.get("sr", args[3] if len(args) > 3 else None)
            self.rec["spk_audio" if not sr else "emo_audio_16k"] = _t(out[0])

        self._wrap(tts, "_load_and_cut_audio", after_load)

        # SeamlessM4TFeatureExtractor (transformers) called by the package on 16 kHz audio.
        # key: spk_audio_16k (torchaudio Resample 22050->16000 of spk_audio),
        #      {spk,emo}_input_features (1, T_w, 160), {spk,emo}_attention_mask (1, T_w)
        extractor = tts.extract_features
        recorder = self

        class ExtractorProxy:
            def __call__(self, audio, *args, **kwargs):
                out = extractor(audio, *args, **kwargs)
                if recorder.case is not None:
                    prefix = "spk" if recorder.phase == "spk" else "emo"
                    if prefix == "spk":
                        recorder.rec["spk_audio_16k"] = _t(audio)
                    recorder.rec[f"{prefix}_input_features"] = _t(out["input_features"])
                    recorder.rec[f"{prefix}_attention_mask"] = _t(out["attention_mask"])
                return out

            def __getattr__(self, name):
                return getattr(extractor, name)

        tts.extract_features = ExtractorProxy()

        # Wav2Vec2BertModel forward inside IndexTTS2.get_emb, which keeps hidden_states[17] and
        # standardises it with wav2vec2bert_stats.pt (-> spk_cond_emb / emo_cond_emb).
        # key: {spk,emo}_w2v_layer17 (1, T_w, 1024) before the standardisation
        def w2v_hook(module, args, out):
            if self.case is not None:
                prefix = "spk" if self.phase == "spk" else "emo"
                self.rec[f"{prefix}_w2v_layer17"] = _t(out.hidden_states[17])

        tts.semantic_model.register_forward_hook(w2v_hook)

        # RepCodec.quantize (semantic codec). key: prompt_codes (1, T_w), S_ref (1, T_w, 1024)
        def after_quantize(args, kwargs, out):
            self.rec["prompt_codes"] = _t(out[0])
            self.rec["S_ref"] = _t(out[1])

        self._wrap(tts.semantic_codec, "quantize", after_quantize)

        # mel_fn = indextts.s2mel.modules.audio.mel_spectrogram. key: spk_audio_22k (its input, the
        # torchaudio Resample(22050->22050) of spk_audio), ref_mel (1, 80, T_ref)
        def after_mel(args, kwargs, out):
            self.rec["spk_audio_22k"] = _t(args[0])

        self._wrap(tts, "mel_fn", after_mel)

        # CAMPPlus forward. key: campplus_fbank (1, T, 80) = kaldi fbank minus its time mean
        def campplus_pre(module, args):
            if self.case is not None:
                self.rec["campplus_fbank"] = _t(args[0])

        tts.campplus_model.register_forward_pre_hook(campplus_pre)

        # InterpolateRegulator forward (length regulator). Speaker phase: prompt_condition (above).
        # Segment phase. key: S_infer (1, N, 1024) input, target_lengths, cond (1, T_gen, 512)
        def regulator_hook(module, args, kwargs, out):
            if self.case is not None and self.phase == "seg":
                self.seg["S_infer"] = _t(args[0])
                self.seg["target_lengths"] = _t(kwargs.get("ylens"))
                self.seg["cond"] = _t(out[0])

        s2mel["length_regulator"].register_forward_hook(regulator_hook, with_kwargs=True)

        # indextts.infer_v2.find_most_similar_cosine (modes 2/3). key: emo_matrix_rows (8,) chosen rows
        def after_cosine(args, kwargs, out):
            self.rec.setdefault("emo_matrix_rows", []).append(int(out))

        original_cosine = infer_module.find_most_similar_cosine

        @functools.wraps(original_cosine)
        def cosine(*args, **kwargs):
            out = original_cosine(*args, **kwargs)
            if self.case is not None:
                after_cosine(args, kwargs, out)
            return out

        infer_module.find_most_similar_cosine = cosine

        # QwenEmotion.inference (mode 3). key: emo_text_vector (8,) in emotion order, and
        # emo_text_generated_ids (1, n) = what its model.generate returned (prompt included).
        # The package asks for up to 32768 new tokens; a random-weight stand-in may never stop,
        # so a case may cap it with "emo_text_max_new_tokens" (the comparing side must then cap too).
        if getattr(tts, "qwen_emo", None) is not None:

            def after_qwen(args, kwargs, out):
                self.rec["emo_text_vector"] = [float(v) for v in out.values()]

            self._wrap(tts.qwen_emo, "inference", after_qwen)
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

        # TextTokenizer.tokenize / split_segments (NeMo normaliser + SentencePiece).
        # key: text_pieces (list of str), segments (list of lists of str)
        self._wrap(tts.tokenizer, "tokenize", lambda a, k, out: self.rec.__setitem__("text_pieces", list(out)))
        self._wrap(tts.tokenizer, "split_segments", lambda a, k, out: self.rec.__setitem__("segments_text", _t(out)))
        if hasattr(tts.tokenizer, "normalizer") and tts.tokenizer.normalizer is not None:
            # key: text_normalized (TextNormalizer.normalize output)
            self._wrap(
                tts.tokenizer.normalizer,
                "normalize",
                lambda a, k, out: self.rec.__setitem__("text_normalized", out),
            )

        # UnifiedVoice.merge_emovec (runs once per segment). key (per segment): emovec_audio (1, 1280)
        # Plus values infer_generator computes inline, read (not recomputed) from its frame:
        # key: emo_alpha_used (alpha given to merge_emovec: 1.0 unless mode 1), and in modes 2/3
        # emo_weight_vector (8,) (after the clamp(alpha) scaling and 4-decimal truncation) and
        # emovec_mat (1, 1280) = sum_i w_i * emo_matrix_i[row_i]
        def after_merge(args, kwargs, out):
            self.rec["segments"].append({})
            self.phase = "seg"
            self.seg["emovec_audio"] = _t(out)
            if "emo_alpha_used" not in self.rec:
                local = infer_generator_locals()
                self.rec["emo_alpha_used"] = float(kwargs.get("alpha", local.get("emo_alpha", 1.0)))
                for src, key in (("weight_vector", "emo_weight_vector"), ("emovec_mat", "emovec_mat")):
                    if isinstance(local.get(src), torch.Tensor):
                        self.rec[key] = _t(local[src])

        self._wrap(tts.gpt, "merge_emovec", after_merge)

        # UnifiedVoice.inference_speech (GPT autoregressive generation via HF generate).
        # key (per segment): text_ids (1, L) int32 as given to the GPT, emovec (1, 1280) final emotion
        # vector (after the mode-2/3 blend), speaker_latent (1, 32, 1280) = get_conditioning output,
        # codes_generated (1, N') raw generate output (stop token included when produced),
        # forced (bool).
        gpt = tts.gpt

        def forced_inference_speech(speech_condition, text_inputs, *args, cond_lengths=None, **kwargs):
            # Same first step as UnifiedVoice.inference_speech (speaker latent from
            # UnifiedVoice.get_conditioning); the generation itself is replaced by the forced codes.
            latent = gpt.get_conditioning(speech_condition.transpose(1, 2), cond_lengths)
            forced = self.case["codes"][len(self.rec["segments"]) - 1]
            codes = forced.reshape(-1).tolist() if isinstance(forced, torch.Tensor) else [int(c) for c in forced]
            return torch.tensor([[*codes, gpt.stop_mel_token]], dtype=torch.long), latent

        original_speech = gpt.inference_speech

        @functools.wraps(original_speech)
        def inference_speech(speech_condition, text_inputs, *args, **kwargs):
            if self.case is None:
                return original_speech(speech_condition, text_inputs, *args, **kwargs)
            seg = self.seg
            seg["text_ids"] = _t(text_inputs)
            seg["emovec"] = _t(kwargs.get("emo_vec"))
            seg["gen_logits"] = []
            forced = self.case["codes"] is not None
            if forced and len(self.case["codes"]) < len(self.rec["segments"]):
                raise SystemExit(f"{self.case['name']}: fewer forced code lists than segments")
            fn = forced_inference_speech if forced else original_speech
            codes, latent = fn(speech_condition, text_inputs, *args, **kwargs)
            seg["forced"] = forced
            seg["codes_generated"] = _t(codes)
            seg["speaker_latent"] = _t(latent)
            if seg["gen_logits"]:
                seg["gen_logits"] = torch.cat(seg["gen_logits"], dim=0)  # (steps, 8194)
            else:
                del seg["gen_logits"]
            return codes, latent

        gpt.inference_speech = inference_speech

        # GPT2InferenceModel forward (one call per generation step).
        # key (per segment): gen_logits (steps, number_mel_codes) raw mel_head logits of the last
        # position, before any logits processor (repetition penalty, temperature, top-k/p).
        def step_hook(module, args, out):
            if self.case is not None and self.phase == "seg" and isinstance(self.seg.get("gen_logits"), list):
                logits = out.logits if hasattr(out, "logits") else out[0]
                self.seg["gen_logits"].append(_t(logits[:, -1, :].float()))

        gpt.inference_model.register_forward_hook(step_hook)

        # UnifiedVoice.forward: the teacher-forced pass on the codes.
        # key (per segment): codes (1, N) as fed (cut at the first stop token), gpt_latent (1, N, 1280)
        def gpt_hook(module, args, out):
            if self.case is not None and self.phase == "seg":
                self.seg["codes"] = _t(args[3])
                self.seg["gpt_latent"] = _t(out)

        gpt.register_forward_hook(gpt_hook)

        # MyModel.models["gpt_layer"] (1280->256->128->1024). key: gpt_latent_proj (1, N, 1024)
        s2mel["gpt_layer"].register_forward_hook(
            lambda m, a, out: self.seg.__setitem__("gpt_latent_proj", _t(out)) if self.case is not None else None
        )

        # ResidualVQ.vq2emb of the semantic codec. key: codes_emb (1, 1024, N)
        self._wrap(
            tts.semantic_codec.quantizer,
            "vq2emb",
            lambda a, k, out: self.seg.__setitem__("codes_emb", _t(out)) if self.phase == "seg" else None,
        )

        # CFM.inference (flow-matching solve). Seeds torch right before the noise draw.
        # key: cat_condition (1, T_ref+T_gen, 512), x_lens, mel_full (1, 80, T_ref+T_gen) incl. prompt part
        cfm = s2mel["cfm"]
        original_cfm = cfm.inference

        @functools.wraps(original_cfm)
        def cfm_inference(mu, x_lens, *args, **kwargs):
            if self.case is None:
                return original_cfm(mu, x_lens, *args, **kwargs)
            idx = len(self.rec["segments"]) - 1
            seed = int(self.case.get("seed", 0)) + idx
            self.seg["noise_seed"] = seed
            torch.manual_seed(seed)
            out = original_cfm(mu, x_lens, *args, **kwargs)
            self.seg["cat_condition"] = _t(mu)
            self.seg["x_lens"] = _t(x_lens)
            self.seg["mel_full"] = _t(out)
            return out

        cfm.inference = cfm_inference

        # BASECFM.solve_euler receives the start noise z = randn(1, 80, T) * temperature.
        # key: noise_z (1, 80, T_ref+T_gen) as drawn or injected, noise_injected (bool)
        original_solve = cfm.solve_euler

        @functools.wraps(original_solve)
        def solve_euler(x, *args, **kwargs):
            if self.case is not None:
                idx = len(self.rec["segments"]) - 1
                noise = self.case["noise"]
                if noise is not None:
                    z = noise[idx].to(dtype=x.dtype, device=x.device)
                    if z.shape != x.shape:
                        raise SystemExit(f"{self.case['name']}: noise {tuple(z.shape)} != {tuple(x.shape)}")
                    x = z.clone()
                self.seg["noise_injected"] = noise is not None
                self.seg["noise_z"] = _t(x)  # before solve_euler zeroes the prompt frames in place
            return original_solve(x, *args, **kwargs)

        cfm.solve_euler = solve_euler

        # BigVGAN forward. key: mel (1, 80, T_gen) vocoder input = mel_full without the prompt frames,
        # wav_vocoder (1, 1, T_gen*256) raw output in [-1, 1] (before the package's clamp)
        def vocoder_pre(module, args):
            if self.case is not None:
                self.seg["mel"] = _t(args[0])

        def vocoder_hook(module, args, out):
            if self.case is not None:
                self.seg["wav_vocoder"] = _t(out)

        tts.bigvgan.register_forward_pre_hook(vocoder_pre)
        tts.bigvgan.register_forward_hook(vocoder_hook)

        # IndexTTS2.insert_interval_silence: gets the clamped per-segment waves, returns them with
        # the silences in between; the package then concatenates them.
        # key: wav (1, n) float in [-1, 1] = torch.cat of that list; per segment: wav_segment (1, n_i)
        def after_silence(args, kwargs, out):
            for seg, wav in zip(self.rec["segments"], args[0], strict=True):
                seg["wav_segment"] = _t(wav)
            self.rec["wav"] = _t(torch.cat(out, dim=1)) if out else None

        self._wrap(tts, "insert_interval_silence", after_silence)


# --------------------------------------------------------------------------- main


def run_case(tts: Any, recorder: Recorder, case: dict) -> dict:
    tts._init_cache()  # every case recomputes (and so records) its speaker and emotion conditioning
    torch.manual_seed(int(case.get("seed", 0)))
    random.seed(int(case.get("seed", 0)))
    kwargs = infer_kwargs(tts, case)
    recorder.case, recorder.rec = case, {"segments": []}
    t0 = time.perf_counter()
    try:
        result = tts.infer(**kwargs)  # IndexTTS2.infer -> (22050, int16 array (n, 1)) without output_path
    finally:
        recorder.case, recorder.phase = None, "idle"
    rec = recorder.rec
    rec["seconds"] = time.perf_counter() - t0
    rec["infer_kwargs"] = {k: v for k, v in kwargs.items() if k != "output_path"}
    if rec.get("wav") is not None:
        # The package's own final step, done inline in infer_generator (not hookable):
        # (wav.float() * 32767).clamp(-32767, 32767) then .to(torch.int16).
        rec["wav_pcm"] = (rec["wav"].float() * 32767).clamp(-32767, 32767)  # key: wav_pcm (1, n) float
    if result is not None:
        rec["sampling_rate"] = int(result[0])
        rec["wav_int16"] = torch.from_numpy(result[1].copy())  # key: wav_int16 (n, 1), the package's output
    if "text_pieces" in rec:
        # key: text_ids_all (n,) ids of the whole text (TextTokenizer.convert_tokens_to_ids)
        rec["text_ids_all"] = torch.tensor(tts.tokenizer.convert_tokens_to_ids(rec["text_pieces"]), dtype=torch.long)
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, type=Path, help="checkpoint directory in the official layout")
    parser.add_argument("--cases", required=True, type=Path, help="cases JSON (see module docstring)")
    parser.add_argument("--out", required=True, type=Path, help="torch.save output file")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--keep-hf-home", type=Path, default=None, help="build the hub-cache layout here and keep it")
    parser.add_argument("--progress", action="store_true", help="keep tqdm progress bars")
    args = parser.parse_args(argv)

    model_dir = args.model_dir.resolve()
    cases = load_cases(args.cases)
    hf_home = args.keep_hf_home.resolve() if args.keep_hf_home else Path(tempfile.mkdtemp(prefix="parity-hf-"))
    if args.keep_hf_home and hf_home.exists():
        shutil.rmtree(hf_home)
    hf_home.mkdir(parents=True, exist_ok=True)
    try:
        snapshots = build_hf_home(model_dir, hf_home)
        set_offline_hub_env(hf_home)
        indextts = import_reference_package()  # only now: huggingface_hub reads the env at import
        import importlib.metadata as md

        import indextts.infer_v2 as infer_module

        if args.threads:
            torch.set_num_threads(args.threads)
        if not args.progress:
            import transformers

            transformers.utils.logging.disable_progress_bar()
        t0 = time.perf_counter()
        tts = indextts.IndexTTS2(model_dir=str(model_dir), device="cpu", use_cuda_kernel=False)
        load_seconds = time.perf_counter() - t0
        notes = check_loaded(tts, model_dir)
        recorder = Recorder(tts, infer_module)
        meta = {
            "package": f"{PACKAGE_DIST} {md.version(PACKAGE_DIST)}",
            "package_file": indextts.__file__,
            "versions": {n: md.version(n) for n in ("torch", "torchaudio", "transformers", "nemo-text-processing")},
            "model_dir": str(model_dir),
            "hub_snapshots": snapshots,
            "device": "cpu",
            "dtype": "float32",
            "generation": GREEDY_GENERATION,
            "load_seconds": load_seconds,
            "load_notes": notes,
            "torch_threads": torch.get_num_threads(),
        }
        print(f"reference: {meta['package']} from {indextts.__file__}; loaded in {load_seconds:.1f} s", flush=True)
        for note in notes:
            print(f"reference: note: {note}", flush=True)
        out_cases = {}
        for case in cases:
            rec = run_case(tts, recorder, case)
            out_cases[case["name"]] = rec
            segs = rec["segments"]
            print(
                f"reference: {case['name']}: {len(segs)} segment(s), codes {[s['codes'].shape[-1] for s in segs]}, "
                f"{rec['seconds']:.1f} s",
                flush=True,
            )
        meta["max_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        args.out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"meta": meta, "cases": out_cases}, args.out)
        print(f"reference: wrote {args.out} (peak RSS {meta['max_rss_gib']:.1f} GiB)", flush=True)
    finally:
        if not args.keep_hf_home:
            shutil.rmtree(hf_home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
