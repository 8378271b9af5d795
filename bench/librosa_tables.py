"""Write the librosa stand-in's mel tables with the real librosa, and check the stand-in against it.

    python bench/librosa_tables.py OUT.npz      (bench/prepare_gpu_report.sh runs it)

Exits non-zero if the stand-in's resampling or filters differ from librosa's in any bit.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import librosa
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indextts.audio import SEMANTIC_SAMPLE_RATE, SPEAKER_SAMPLE_RATE, load_audio  # noqa: E402
from indextts.factory.configs import model_config  # noqa: E402


def standin():
    spec = importlib.util.spec_from_file_location(
        "librosa_standin", REPO / "bench" / "standins" / "librosa" / "__init__.py", submodule_search_locations=[]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["librosa_standin"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    out = Path(sys.argv[1])
    stand = standin()
    tables, settings = {}, []
    for size in ("tiny", "full"):
        pre = model_config(size).s2mel.preprocess_params
        p = pre.spect_params
        args = {"sr": pre.sr, "n_fft": p.n_fft, "n_mels": p.n_mels, "fmin": p.fmin, "fmax": p.fmax}
        # The official code reads fmax as None unless the config says otherwise (then 8000): its table too.
        official = args | {"fmax": None if p.fmax in (None, "None") else 8000}
        for one in (args, official):
            tables[stand.filters.table_key(**one)] = librosa.filters.mel(**one)
            settings.append(one)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **tables)
    os.environ["INDEXTTS_LIBROSA_TABLES"] = str(out)
    for args in settings:
        if not np.array_equal(stand.filters.mel(**args), librosa.filters.mel(**args)):
            print(f"stand-in mel filters for {args} differ", file=sys.stderr)
            return 1
    wave, rate = load_audio(str(REPO / "examples" / "voice_01.wav"))
    signals = [wave, np.random.default_rng(0).standard_normal(12345).astype(np.float32)]
    for y in signals:
        for a, b in ((rate, SEMANTIC_SAMPLE_RATE), (SEMANTIC_SAMPLE_RATE, SPEAKER_SAMPLE_RATE), (44100, 22050)):
            expected = librosa.resample(y, orig_sr=a, target_sr=b, res_type="soxr_hq")
            got = stand.resample(y, orig_sr=a, target_sr=b, res_type="soxr_hq")
            if got.dtype != expected.dtype or not np.array_equal(got, expected):
                print(f"stand-in resampling {a} → {b} differs from librosa", file=sys.stderr)
                return 1
    stereo = np.stack([signals[1], signals[1][::-1]])
    if not np.array_equal(stand.to_mono(stereo), librosa.to_mono(stereo)):
        print("stand-in to_mono differs from librosa", file=sys.stderr)
        return 1
    prompt = str(REPO / "examples" / "voice_01.wav")
    for sr in (22050, 16000, None):  # librosa.load as the official code calls it
        expected, expected_sr = librosa.load(prompt, sr=sr)
        got, got_sr = stand.load(prompt, sr=sr)
        if got_sr != expected_sr or got.dtype != expected.dtype or not np.array_equal(got, expected):
            print(f"stand-in load at sr={sr} differs from librosa", file=sys.stderr)
            return 1
    print(f"librosa stand-in: {len(tables)} mel table(s) in {out}; resampling, to_mono and load identical to librosa")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
