"""report.md of `bench/gpu_report.py`: its report.json as tables (whatever sections it holds so far)."""

from __future__ import annotations

import statistics
from typing import Any

from compare_reference import ROWS

STAGE_ROWS = tuple(row for row in ROWS if not row[1].startswith("total"))  # the stages, without the totals


def gib(value: float | None) -> str:
    return "—" if value is None else f"{value / 2**30:.2f} GiB"


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    s = {key: statistics.median(run[key] for run in runs) for _, key in STAGE_ROWS}
    s["audio_s"] = statistics.median(run["audio_s"] for run in runs)
    s["codes"] = statistics.median(run["codes"] for run in runs)
    s["total_cached"] = (
        s["text"] + s["prompt_cached"] + sum(s[k] for k in ("gpt_generate", "gpt_latent", "s2mel", "vocoder"))
    )
    s["total_cold"] = s["total_cached"] - s["prompt_cached"] + s["prompt_cold"]
    return s


def label(dtype: str, runs_as: str) -> str:
    """The dtype asked for, and what it ran as where they differ (the GPT runs in float32 off CUDA)."""
    return dtype if dtype == runs_as else f"{dtype} (ran as {runs_as})"


def stage_table(data: dict[str, Any]) -> list[str]:
    columns = [
        (label(dtype.removeprefix("dtype_"), entry["runs_as"]), key, entry[key])
        for dtype, entry in ((k, v) for k, v in data.items() if k.startswith("dtype_"))
        for key in ("stages_3", "stages_1")
        if key in entry and entry[key]["runs"]
    ]
    if not columns:
        return []
    sums = [summary(stages["runs"]) for _, _, stages in columns]
    head = " | ".join(f"{dtype}, {stages['num_beams']} beam(s)" for dtype, _, stages in columns)
    lines = [f"| stage (median of the timed runs) | {head} |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(f"{s[key]:.3f} s" for s in sums) + " |" for label, key in STAGE_ROWS]
    lines += [
        "| total, cached prompt | " + " | ".join(f"{s['total_cached']:.3f} s" for s in sums) + " |",
        "| audio | " + " | ".join(f"{s['audio_s']:.2f} s ({s['codes']:.0f} codes)" for s in sums) + " |",
        "| **RTF**, cached prompt | " + " | ".join(f"**{s['total_cached'] / s['audio_s']:.4f}**" for s in sums) + " |",
        "| RTF, cold prompt | " + " | ".join(f"{s['total_cold'] / s['audio_s']:.4f}" for s in sums) + " |",
        "| GPT codes/s | " + " | ".join(f"{s['codes'] / s['gpt_generate']:.0f}" for s in sums) + " |",
        "| GPT share of the total | " + " | ".join(f"{s['gpt_generate'] / s['total_cached']:.0%}" for s in sums) + " |",
        "| peak GPU memory | " + " | ".join(gib(stages["peak_gpu_bytes"]) for _, _, stages in columns) + " |",
    ]
    loads = [f"{k.removeprefix('dtype_')} {v['load_s']:.1f} s" for k, v in data.items() if k.startswith("dtype_")]
    return [*lines, "", "Model load: " + ", ".join(loads) + "."]


def official_table(data: dict[str, Any]) -> list[str]:
    """Ours against the official implementation per dtype, from the official_<dtype> sections."""
    entries = [(k.removeprefix("official_"), v) for k, v in data.items() if k.startswith("official_")]
    if not entries:
        return []
    lines = [
        "The official code (`indextts2-inference` 2.1.1) in a child process on the same checkpoint, prompt, text "
        "and settings (3 sampled beams, the stop code made impossible so both generate the same number of codes), "
        "against our 3-beam column above. official / ours above 1: ours is faster.",
        "",
    ]
    good = [(dtype, e) for dtype, e in entries if "comparison" in e]
    for dtype, e in entries:
        if "error" in e:
            lines.append(f"- **official {dtype}: not measured**: {e['error'][-600:]}")
        elif not e["comparison"]["same_text_ids"]:
            c = e["comparison"]
            lines.append(
                f"- **official {dtype}: the two tokenizers gave DIFFERENT token ids** ({c['text_ids_ours']} vs "
                f"{c['text_ids_official']}): the rows below do not compare the same input."
            )
    if len(lines) > 2:
        lines.append("")
    if not good:
        return lines
    head = " | ".join(f"ours {d} | official {d} | official / ours" for d, _ in good)
    lines += [f"| stage (median) | {head} |", "|---|" + "---:|" * (3 * len(good))]

    def cells(key: str, fmt: str, ratio: bool = True) -> str:
        out = []
        for _, e in good:
            a, b = e["comparison"]["ours"][key], e["comparison"]["official"][key]
            out += [fmt.format(a), fmt.format(b), f"{b / a:.2f}" if ratio and a else ""]
        return " | ".join(out)

    lines += [f"| {name} | {cells(key, '{:.3f} s')} |" for name, key in STAGE_ROWS]
    lines.append(f"| **total, cached prompt** | {cells('total_cached', '{:.3f} s')} |")
    rtf = []
    rate = []
    for _, e in good:
        a, b = e["comparison"]["ours"], e["comparison"]["official"]
        rtf += [f"{a['total_cached'] / a['audio_s']:.4f}", f"{b['total_cached'] / b['audio_s']:.4f}", ""]
        ra, rb = a["codes"] / a["gpt_generate"], b["codes"] / b["gpt_generate"]
        rate += [f"{ra:.1f}", f"{rb:.1f}", f"ours {ra / rb:.2f}×"]
    lines.append(f"| RTF, cached prompt | {' | '.join(rtf)} |")
    lines.append(f"| GPT codes/s | {' | '.join(rate)} |")
    peaks = []
    for dtype, e in good:
        peaks += [
            gib(data.get(f"dtype_{dtype}", {}).get("stages_3", {}).get("peak_gpu_bytes")),
            gib(e["peak_gpu_bytes"]),
            "",
        ]
    lines.append(f"| peak GPU memory | {' | '.join(peaks)} |")
    lines.append("")
    for dtype, e in good:
        c = e["comparison"]
        first = "none" if c["greedy_first_difference"] is None else f"step {c['greedy_first_difference']}"
        lines.append(
            f"- {dtype}: **ours is {c['speedup_total_cached']:.2f}× faster** end to end (cached prompt; GPT "
            f"generation {c['speedup_gpt']:.2f}×); same text token ids on both sides: "
            f"{'yes' if c['same_text_ids'] else '**NO**'} ({c['text_ids_ours']}); greedy codes ({c['greedy_codes']}, "
            f"stop impossible) equal at {c['greedy_agreement']:.1%} of the steps, first difference: {first}; "
            f"official model load {e['load_s']:.1f} s, child process {e['wall_s']:.0f} s in all."
        )
    return lines


def faster_step(rows: list[dict[str, Any]]) -> list[str]:
    """Which of the two captured modes (hand-made CUDA graphs, torch.compile) was faster, per beam width."""
    out = []
    for beams in sorted({r["beams"] for r in rows}):
        pair = {r["mode"]: r["codes_per_s"] for r in rows if r["beams"] == beams and r["mode"] in ("graph", "compile")}
        if len(pair) == 2:
            best = max(pair, key=pair.get)
            other = min(pair, key=pair.get)
            out.append(f"{beams} beam(s): **{best}** ({pair[best] / pair[other]:.2f}× {other})")
    return ["", "Faster captured step: " + "; ".join(out) + "."] if out else []


def decode_table(decode: dict[str, Any]) -> list[str]:
    lines = [
        f"GPT decode alone, {decode['dtype']}, prefix ready, forced code count, best of the warm runs. "
        "graph: fixed shapes replayed as hand-captured CUDA graphs (the default on CUDA); compile: the same "
        "fixed-shape step through torch.compile (inductor, mode reduce-overhead on CUDA); fixed: the same shapes "
        "run eagerly; exact: eager, rows and attention window exactly as long as needed.",
        "",
        "| step mode | beams | codes/s | ms per step |",
        "|---|---:|---:|---:|",
    ]
    for row in decode["rows"]:
        lines.append(f"| {row['mode']} | {row['beams']} | {row['codes_per_s']:.0f} | {1000 / row['codes_per_s']:.3f} |")
    lines += faster_step(decode["rows"])
    if decode.get("graph_capture_failed"):
        lines += ["", "**CUDA graph capture failed** (the log has why): the graph rows ran the fixed-shape eager step."]
    weights = decode["weight_bytes"]
    if decode.get("bound_codes_per_s"):
        lines += [
            "",
            f"Bound: each step reads {weights / 2**30:.2f} GiB of GPT weights; at the measured copy bandwidth of "
            f"{decode['copy_bandwidth'] / 1e12:.2f} TB/s that is at most {decode['bound_codes_per_s']:.0f} steps/s.",
        ]
    return lines


def fidelity_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Same weights, prompt, text and seeds as float32. Codes: greedy and the default sampled 3-beam search "
        "(agreement = share of positions equal; first difference = step). mel/wav: float32's codes decoded with "
        "this dtype's GPT latent and the same noise (s2mel and vocoder run in float32 in both).",
        "",
        "| dtype | greedy codes equal | first difference | sampled codes equal | first difference | "
        "mel max rel | mel rms rel | wav max rel | wav rms rel |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        first = lambda v: "none" if v is None else str(v)  # noqa: E731
        lines.append(
            f"| {label(r['dtype'], r['runs_as'])} | {r['greedy_agreement']:.1%} | "
            f"{first(r['greedy_first_difference'])} | "
            f"{r['sampled_agreement']:.1%} | {first(r['sampled_first_difference'])} | {r['mel_max_rel']:.2e} | "
            f"{r['mel_rms_rel']:.2e} | {r['wav_max_rel']:.2e} | {r['wav_rms_rel']:.2e} |"
        )
    return lines


def load_table(load: dict[str, Any], codes: int) -> list[str]:
    lines = [
        f"N requests submitted at once to the serving core (validation, queue, continuous batching with "
        f"max_batch N, WAV writing), {load['dtype']}, {codes} forced codes (≈ {codes / 50:.0f} s of audio) and "
        "3 sampled beams each. TTFA: submit → first streamed segment.",
        "",
        "| requests at once | wall | audio | audio s per s | latency p50 | latency max | TTFA p50 | TTFA min |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in load["levels"]:
        lines.append(
            f"| {lv['requests']} | {lv['wall_s']:.2f} s | {lv['audio_s']:.0f} s | {lv['audio_per_s']:.2f} | "
            f"{lv['latency_p50_s']:.2f} s | {lv['latency_max_s']:.2f} s | {lv['first_audio_p50_s']:.3f} s | "
            f"{lv['first_audio_min_s']:.3f} s |"
        )
    return [*lines, "", f"Peak GPU memory under load: {gib(load['peak_gpu_bytes'])}."]


def markdown(data: dict[str, Any]) -> str:
    s, m = data.get("settings", {}), data.get("machine", {})
    lines = [
        f"# IndexTTS Node — GPU report ({data['date']})",
        "",
        f"`bench/gpu_report.sh {' '.join(data['argv'])}`",
        "",
    ]
    if m:
        lines += [
            "## Machine",
            "",
            f"- device: {m['device']} ({m['device_name']})",
            f"- CPU {m['cpu']}, {m['cpu_cores']} cores, {gib(m['memory_bytes'])} memory",
            f"- {m['platform']}; Python {m['python']}; torch {m['torch']}",
            "",
        ]
    if s:
        lines += [
            "## Settings",
            "",
            f"- {s['size']} random-weight checkpoint (factory), written here in {data.get('checkpoint_s', 0):.0f} s",
            f"- single stream: one utterance of {s['codes']} forced codes (≈ {s['codes'] / 50:.0f} s of audio), "
            f"prompt `{s['prompt']}`, {s['repeat']} timed runs after a warm-up",
            f"- text normaliser: {s['normaliser']}",
            f"- official implementation: {s['official']}",
            "",
        ]
    sections = [
        ("Single stream, stage by stage", stage_table(data)),
        ("Against the official implementation, same weights", official_table(data)),
        ("The decode step", decode_table(data["decode"]) if "decode" in data else []),
        ("Half precision against float32", fidelity_table(data["fidelity"]) if data.get("fidelity") else []),
        ("The serving core under load", load_table(data["load"], s.get("load_codes", 0)) if "load" in data else []),
    ]
    for title, body in sections:
        if body:
            lines += [f"## {title}", "", *body, ""]
    if data.get("skipped"):
        lines += ["Skipped: " + "; ".join(data["skipped"]) + ".", ""]
    lines.append(f"Report time: {data.get('elapsed_s', 0):.0f} s; peak RSS {gib(data.get('peak_rss_bytes'))}.")
    return "\n".join(lines) + "\n"
