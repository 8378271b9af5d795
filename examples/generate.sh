#!/usr/bin/env bash
# Regenerates the example voice prompts from text, with eSpeak NG and SoX (Debian packages
# espeak-ng and sox). Every WAV in examples/ is made here: nothing is copied from elsewhere.
#
#   examples/generate.sh [OUTPUT_DIR]      (default: the folder of this script)
#
# voice_01 … voice_11 are the presets the OpenAI-compatible API maps its voice names to;
# emo_*.wav are emotion references. All are 22.05 kHz mono 16-bit PCM, peak-normalised.
set -euo pipefail
out="${1:-$(cd "$(dirname "$0")" && pwd)}"
mkdir -p "$out"
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt-get install espeak-ng sox)" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# speak NAME VOICE SPEED PITCH "TEXT" [extra sox effects…]
speak() {
  local name=$1 voice=$2 speed=$3 pitch=$4 text=$5
  shift 5
  espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$scratch/$name.raw.wav" "$text"
  sox "$scratch/$name.raw.wav" -r 22050 -c 1 -b 16 "$out/$name.wav" "$@" norm -3 pad 0.15 0.25
}

EN_1="The quick brown fox jumps over the lazy dog, and everyone in the village laughs."
EN_2="Good morning! Today we will talk about the weather, the news, and a little bit of music."
EN_3="I have been waiting for this moment for a very long time, and now it is finally here."
ZH_1="大家好，欢迎来到我们的节目，今天我们一起聊一聊科技和生活。"
ZH_2="春天来了，公园里的花都开了，孩子们在草地上开心地玩耍。"

speak voice_01 en-us+m3        165 50 "$EN_1"
speak voice_02 en-gb+m1        150 40 "$EN_2"
speak voice_03 en-gb-x-rp+m7   155 45 "$EN_3"
speak voice_04 en-us+m5        140 30 "$EN_2" bass +3
speak voice_05 en-us+f2        170 65 "$EN_1"
speak voice_06 en-gb+f4        160 70 "$EN_3"
speak voice_07 en-us-nyc+m2    175 55 "$EN_3"
speak voice_08 en-gb-scotland+f1 150 60 "$EN_2"
speak voice_09 cmn+f3          150 60 "$ZH_1"
speak voice_10 cmn+m4          145 45 "$ZH_2"
speak voice_11 cmn+f5          160 70 "$ZH_2" treble +2

speak emo_happy cmn+f3         185 85 "太好了！我们赢了！今天真是太开心了！" tempo 1.05
speak emo_sad   cmn+m1         115 25 "唉……他走了以后，这里就再也没有人陪我说话了。"
speak emo_angry en-us+m3       190 35 "Stop it right now! I told you a hundred times not to touch my things!"
echo "examples written to $out"
