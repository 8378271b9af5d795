"""The UI's words in Chinese and English. Keys are stable names; `text(key, lang)` picks one,
`reword(value, lang)` puts a line already on the page into the other language."""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

Lang = Literal["zh", "en"]
LANGUAGES: list[tuple[str, str]] = [("中文", "zh"), ("English", "en")]
DEFAULT_LANG: Lang = "zh"

EMOTION_LABELS = {
    "zh": ["喜", "怒", "哀", "惧", "厌恶", "低落", "惊喜", "平静"],
    "en": ["Happy", "Angry", "Sad", "Afraid", "Disgusted", "Melancholic", "Surprised", "Calm"],
}

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("## IndexTTS2 语音合成", "## IndexTTS2 text to speech"),
    "subtitle": (
        "上传或录制一段 3–15 秒的声音（只使用前 15 秒，更长的录音上传时截取前 15 秒），输入文字，"
        "点击「生成语音」：用同样的音色读出来，还可以控制情感。",
        "Upload or record 3–15 s of a voice (only the first 15 s are used: a longer recording is trimmed to "
        "them on upload), type a text and press Generate: it is read in that voice, with the emotion you choose.",
    ),
    "language": ("界面语言", "Language"),
    "prompt_audio": ("音色参考音频（上传或录音）", "Voice reference (upload or record)"),
    "text": ("文本", "Text"),
    "text_placeholder": ("请输入要合成的文本", "Type the text to speak"),
    "generate": ("生成语音", "Generate"),
    "stop": ("停止", "Stop"),
    "stopped": ("⏹ 已停止（任务 {job}）", "⏹ Stopped (job {job})"),
    "result": ("生成结果", "Result"),
    "emotion_section": ("情感控制", "Emotion control"),
    "emo_mode": ("情感控制方式", "Emotion mode"),
    "mode_none": ("与音色参考音频相同", "Same as the voice reference"),
    "mode_audio": ("使用情感参考音频", "Emotion reference audio"),
    "mode_vector": ("使用情感向量控制", "Emotion vector"),
    "mode_text": ("使用情感描述文本控制（实验性）", "Emotion from text (experimental)"),
    "mode_short_none": ("同音色参考", "same as voice"),
    "mode_short_audio": ("情感音频", "emotion audio"),
    "mode_short_vector": ("情感向量", "emotion vector"),
    "mode_short_text": ("情感文本", "emotion text"),
    "emo_audio": ("情感参考音频", "Emotion reference audio"),
    "emo_alpha": ("情感权重", "Emotion weight"),
    "emo_alpha_info": ("越大情感越强（0–1）", "Higher = stronger emotion (0–1)"),
    "emo_text": ("情感描述文本", "Emotion description"),
    "emo_text_placeholder": ("留空则使用上面的合成文本", "Leave empty to use the text above"),
    "use_random": ("情感随机采样", "Random emotion sampling"),
    "use_random_info": ("开启后音色还原度会降低", "Lowers how closely the voice is matched"),
    "vector_sum": (
        "情感向量之和（加权后）：**{total:.2f}**",
        "Sum of the emotion weights (after bias): **{total:.2f}**",
    ),
    "vector_capped": (
        "⚠️ 超过 0.8，生成时会按比例缩放到 0.8，以保留音色。",
        "⚠️ Above 0.8: the weights are scaled down to sum to 0.8 so the voice is kept.",
    ),
    "vector_empty": ("⚠️ 至少选择一种情感（向量全为 0）。", "⚠️ Choose at least one emotion (all weights are 0)."),
    "segments_section": ("分句设置", "Text segmentation"),
    "seg_tokens": ("分句最大 token 数", "Max tokens per segment"),
    "seg_tokens_info": (
        "建议 80–200；越大句子越长，越小切分越碎。",
        "80–200 works well; larger = longer segments, smaller = more, shorter ones.",
    ),
    "preview": ("分句预览", "Segment preview"),
    "text_language": ("文本语言", "Text language"),
    "text_language_info": (
        "IndexTTS-2.5 按所选语言处理文本；“自动”根据文字判断。",
        "IndexTTS-2.5 reads the text in this language; Auto decides from the text.",
    ),
    "language_auto": ("自动", "Auto"),
    "language_zh": ("中文", "Chinese"),
    "language_en": ("英语", "English"),
    "language_ja": ("日语", "Japanese"),
    "language_es": ("西班牙语", "Spanish"),
    "duration_factor": ("时长系数", "Duration factor"),
    "duration_factor_info": (
        "IndexTTS-2.5：小于 1 语速更快，大于 1 更慢（0.5–2.0）。",
        "IndexTTS-2.5: below 1 speaks faster, above 1 slower (0.5–2.0).",
    ),
    "col_index": ("序号", "#"),
    "col_segment": ("分句内容", "Segment"),
    "col_tokens": ("Token 数", "Tokens"),
    "advanced": ("高级生成参数", "Advanced sampling settings"),
    "do_sample": ("do_sample（采样）", "do_sample"),
    "temperature": ("temperature（温度）", "temperature"),
    "top_p": ("top_p", "top_p"),
    "top_k": ("top_k（0 = 关闭）", "top_k (0 = off)"),
    "num_beams": ("num_beams（束搜索宽度）", "num_beams"),
    "repetition_penalty": ("repetition_penalty（重复惩罚）", "repetition_penalty"),
    "length_penalty": ("length_penalty（长度惩罚）", "length_penalty"),
    "max_mel_tokens": ("max_mel_tokens（每段最多音频 token）", "max_mel_tokens (audio tokens per segment)"),
    "interval_silence": ("段间静音（毫秒）", "Silence between segments (ms)"),
    "seed": ("随机种子（-1 = 随机）", "Seed (-1 = random)"),
    "examples": ("示例（点击填入）", "Examples (click to fill in)"),
    "text_count": ("{count} / {limit} 字", "{count} / {limit} characters"),
    "text_limit_rule": (
        "文本框最多接收 {limit} 字，超出的部分不会被输入；更长的文本请分几次合成。",
        "The box takes at most {limit} characters; anything beyond is not taken in. "
        "Synthesise longer texts in several parts.",
    ),
    "upload_trimmed": (
        "ℹ️ 只使用参考音频的前 {limit} 秒：这段 {duration} 秒的录音已截取为前 {limit} 秒。",
        "ℹ️ Only the first {limit} s of a prompt are used: this {duration} s recording was trimmed to them.",
    ),
    "upload_not_audio": (
        "⚠️ 「{name}」不是可以读取的音频，已移除。请选择 WAV、MP3、FLAC、OGG 或 M4A 录音。",
        "⚠️ “{name}” is not audio this node can read, so it was removed. Choose a WAV, MP3, FLAC, OGG or M4A recording.",
    ),
    "upload_too_short": (
        "⚠️ 这段录音只有 {duration} 秒，至少需要 {minimum} 秒（3–15 秒最好）。",
        "⚠️ This recording is only {duration} s long; at least {minimum} s is needed (3–15 s works best).",
    ),
    "status_section": ("节点状态", "Node status"),
    "refresh": ("刷新", "Refresh"),
    # The first line says it all; the details fold away so that a phone's first screen stays free.
    "demo_banner": (
        "⚠️ **演示模式：随机权重，生成的音频是噪声，不是语音。**\n\n"
        "<details><summary>详情</summary>\n\n"
        "没有找到 IndexTTS-2 模型权重，正在使用项目生成的随机权重演示检查点。随机模型不会自己停下，"
        "所以每段在按文字长度估计的朗读时长处结束（每个文本 token 约 0.24 秒）。下载真实模型："
        "`hf download IndexTeam/IndexTTS-2 --local-dir checkpoints`（以及 `checkpoints/README.md` 中的辅助模型），"
        "然后重新启动。\n\n</details>",
        "⚠️ **Demo mode: random weights — the audio is noise, not speech.**\n\n"
        "<details><summary>Details</summary>\n\n"
        "No IndexTTS-2 weights were found, so the node runs a random-weight demo checkpoint made by the "
        "project. A random model never stops by itself, so each segment ends after about as long as its text "
        "takes to say (≈ 0.24 s per text token). Get the real model with "
        "`hf download IndexTeam/IndexTTS-2 --local-dir checkpoints` (plus the auxiliary models in "
        "`checkpoints/README.md`) and restart.\n\n</details>",
    ),
    "model_line": (
        "模型：`{model}` · 设备：`{device}` · 精度：`{dtype}`",
        "Model: `{model}` · device `{device}` · {dtype}",
    ),
    # progress and results
    "queued": ("排队中：前面还有 {ahead} 个任务", "Waiting in the queue: {ahead} job(s) ahead"),
    "stage_starting": ("准备中", "Starting"),
    "stage_prompt": ("分析参考音频", "Analysing the voice prompt"),
    "stage_text": ("处理文本", "Processing the text"),
    "stage_segment": ("合成第 {index}/{count} 段", "Synthesising segment {index}/{count}"),
    "stage_finishing": ("保存音频", "Saving the audio"),
    "stage_done": ("完成", "Done"),
    "result_info": (
        "✅ 时长 **{duration:.2f} 秒** · 用时 {seconds:.2f} 秒 · RTF {rtf:.3f} · 任务 `{job}`",
        "✅ **{duration:.2f} s** of audio · took {seconds:.2f} s · RTF {rtf:.3f} · job `{job}`",
    ),
    "error_prompt_missing": ("请先上传或录制音色参考音频。", "Upload or record a voice reference first."),
    "error_text_missing": ("请输入要合成的文本。", "Type the text to speak first."),
    "error_emo_audio_missing": (
        "「使用情感参考音频」模式需要上传情感参考音频。",
        "The emotion-audio mode needs an emotion reference recording.",
    ),
    "error_request": ("参数有误：{detail}", "Invalid settings: {detail}"),
    "error_audio": ("音频无法使用：{detail}", "The audio cannot be used: {detail}"),
    "error_busy": ("节点繁忙：{detail}", "The node is busy: {detail}"),
    "error_failed": ("生成失败：{detail}", "Generation failed: {detail}"),
    # connection status panel
    "status_local": (
        "🖥️ **本地模式**：未连接中央空间服务器（使用 `--websocket-mode` 启用）。",
        "🖥️ **Local mode**: not connected to a central spaces server (enable with `--websocket-mode`).",
    ),
    "status_connecting": (
        "🟡 **正在连接** {server} （空间 `{space}`）…",
        "🟡 **Connecting** to {server} (space `{space}`)…",
    ),
    "status_connected": (
        "🟢 **已连接** 空间 `{space}` @ {server} · 连接 ID `{connection_id}` · 自 {since} 起",
        "🟢 **Connected** to space `{space}` @ {server} · connection `{connection_id}` · since {since}",
    ),
    "status_disconnected": ("🔴 **连接断开**，正在重连 {server} …", "🔴 **Disconnected**, reconnecting to {server}…"),
    "status_error": ("🔴 **错误**：{error}（自动重试中）", "🔴 **Error**: {error} (retrying automatically)"),
    "status_counters": (
        "远程任务：收到 {received} · 完成 {done} · 失败 {failed} · 站点已遗忘（未运行）{forgotten} · "
        "已生成但无法送达 {undeliverable} · 待运行或待送达 {backlog} · 平均耗时 {mean:.2f} 秒",
        "Remote jobs: received {received} · done {done} · failed {failed} · forgotten by the site (not run) "
        "{forgotten} · made but undeliverable {undeliverable} · still to run or send {backlog} · mean {mean:.2f} s",
    ),
    "status_last_error": ("最近错误 {at}：`{error}`", "Last error {at}: `{error}`"),
    "status_old_error": (
        "最近错误 {at}（本次连接之前）：`{error}`",
        "Last error {at}, before this connection: `{error}`",
    ),
    "status_queue": (
        "本机队列：等待 {pending} · 运行 {running} · 已完成 {completed} · 失败 {failed_jobs} · 平均 RTF {rtf:.3f}",
        "Local queue: waiting {pending} · running {running} · completed {completed} · failed {failed_jobs} · "
        "mean RTF {rtf:.3f}",
    ),
}


def text(key: str, lang: str, **values: object) -> str:
    zh, en = STRINGS[key]
    template = zh if lang == "zh" else en
    return template.format(**values) if values else template


# Lines the page shows after an event (a result, a note on an upload): a language switch rewords them.
REWORDABLE = ("result_info", "upload_trimmed", "upload_not_audio", "upload_too_short")
_FIELD = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A regex matching what `template` renders to, capturing each field (repeats must agree)."""
    parts, seen, last = [], set(), 0
    for field in _FIELD.finditer(template):
        parts.append(re.escape(template[last : field.start()]))
        name = field.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = field.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


def reword(value: str, lang: str) -> str:
    """`value`, a line made by `text(key, …)` for a key of REWORDABLE in either language, in `lang`;
    anything else unchanged. The fields keep their rendered form (numbers, names, job ids)."""
    for key in REWORDABLE:
        for template in STRINGS[key]:
            match = _pattern(template).fullmatch(value or "")
            if match:
                target = STRINGS[key][0 if lang == "zh" else 1]
                return _FIELD.sub(lambda m: "{" + m.group(1) + "}", target).format(**match.groupdict())
    return value


def emotion_labels(lang: str) -> list[str]:
    return EMOTION_LABELS["zh" if lang == "zh" else "en"]
