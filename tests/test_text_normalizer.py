"""Normalisation as the official front end does it on Linux (WeTextProcessing 1.0.4.1 + upstream rules).

Expected strings follow from the rules in indextts/text (language decision, protected spans,
WeText grammars, punctuation table) and were cross-checked against the upstream front end.
"""

from __future__ import annotations

import pytest

from indextts.text import Glossary, TextNormalizer, prefers_chinese
from indextts.text.normalizer import spell_pinyin

NORMALISED = [
    # numbers, quantities, measures
    ("IndexTTS 正式发布1.0版本了，效果666", "IndexTTS 正式发布一点零版本了,效果六六六"),
    ("2.5平方电线", "二点五平方电线"),
    ("共465篇，约315万字", "共四百六十五篇,约三百一十五万字"),
    ("1键3连", "一键三连"),
    ("这是1024元的手机，你要吗？", "这是一千零二十四元的手机,你要吗?"),
    ("他这条视频点赞3000+，评论1000+，收藏500+", "他这条视频点赞三千加,评论一千加,收藏五零零加"),
    ("我今年25岁，身高1.75米，体重65kg", "我今年二十五岁,身高一点七五米,体重六十五千克"),
    ("1/3的人同意，50%的人反对", "三分之一的人同意,百分之五十的人反对"),
    ("第1名，第2名，第3名", "第一名,第两名,第三名"),
    ("温度-5℃到30℃之间", "温度负五摄氏度到三十摄氏度之间"),
    ("速度是10km/h", "速度是每小时十公里"),
    ("300-400人", "三百到四百人"),
    ("3.14159", "三点一四一五九"),
    ("1411750000", "幺四幺幺七五零零零零"),  # a long digit string is read digit by digit
    ("１２３全角数字", "幺二三全角数字"),  # full-width digits become half-width first
    ("It costs 1,000,000 dollars.", "It costs one million dollars."),
    (
        "In 1999 there were 3.5 million users; today: 12%.",
        "In nineteen ninety nine there were three point five million users, today, twelve percent.",
    ),
    ("5km", "five kilometers"),
    # dates and times
    ("2002年的第一场雪，下在了2003年", "二零零二年的第一场雪,下在了二零零三年"),
    ("现在是北京时间2025年01月11日 20:00", "现在是北京时间二零二五年零一月十一日 二十点"),
    ("2024年12月31日23:59:59", "二零二四年十二月三十一日二十三点五十九分五十九秒"),
    (
        "苹果于2030/1/2发布新 iPhone 2X 系列手机，最低售价仅 ¥12999",
        "苹果于二零三零年一月二日发布新 iPhone 二X 系列手机,最低售价仅 一万两千九百九十九元",
    ),
    ("比分是3:2，时间是12:30", "比分是三比二,时间是十二点三十分"),
    ("8:00 AM 开会", "上午八点 开会"),
    ("See you at 8:00 AM", "See you at eight AM"),
    (
        "The meeting is on 2024-03-15 at 10:30.",
        "The meeting is on the fifteenth of march twenty twenty four at ten thirty.",
    ),
    # currencies
    ("价格是$100，折后¥88.5，约€12", "价格是一百美元,折后八十八点五元,约十二欧元"),
    (
        "This sales for 2.5% off, only $12.5.",
        "This sales for two point five percent off, only twelve point five dollars.",
    ),
    (
        "She paid $3.50 for 2 coffees on Jan. 5, 2024.",
        "She paid three point five dollars for two coffees on the fifth of january , twenty twenty four.",
    ),
    # English inside Chinese, technical terms, phone numbers, e-mail
    ("今天是个好日子 it's a good day", "今天是个好日子 it is a good day"),
    ("5G网络是4G网络的升级版，2G网络是3G网络的前身", "五G网络是四G网络的升级版,二G网络是三G网络的前身"),
    ("GPT-5-Nano 是 GPT-5 模型家族中最小且速度最快的变体", "GPT-五-Nano 是 GPT-五 模型家族中最小且速度最快的变体"),
    (
        "GPT-5-Nano is the smallest and fastest variant in the GPT-5 model family.",
        "GPT-five-Nano is the smallest and fastest variant in the GPT-five model family.",
    ),
    ("such as XTTS, CosyVoice2, Fish-Speech, and F5-TTS", "such as XTTS, CosyVoice two, Fish-Speech, and F five-TTS"),
    ("2025/09/08 IndexTTS-2 全球发布", "二零二五年九月八日 IndexTTS-二 全球发布"),
    ("我们用PyTorch和CUDA 12.1训练模型", "我们用PyTorch和CUDA 十二月一日训练模型"),  # upstream reads 12.1 as a date
    ("电话：135-4567-8900", "电话,一三五四五六七八九零零"),
    ("请拨打400-800-1234或者发邮件到abc@example.com", "请拨打四零零八零零一二三四或者发邮件到abc@example.com"),
    ("abc@example.com", "abc@example.com"),  # a bare e-mail goes the Chinese way and is kept
    ("www.example.com", "WWW dot example dot com"),
    ("用beta1测试", "用beta一测试"),  # "a1" after a letter is not pinyin
    ("have you ever been to beta2?", "have you ever been to beta two?"),
    # pinyin with tones
    ("晕XUAN4是一种GAN3觉", "晕XVAN4是一种GAN3觉"),
    ("最zhong4要的是：不要chong2蹈覆辙", "最zhong4要的是,不要chong2蹈覆辙"),
    ("“衣裳”不读衣chang2，而是读衣shang5", "'衣裳'不读衣chang2,而是读衣shang5"),
    ("jue2 dui4 bu4 xing2, que4 shi2 ju4 da4", "JVE2 dui4 bu4 XING2, QVE4 shi2 JV4 da4"),
    ("ü4 lü4 nü3 jü2", "ü4 lü4 nü3 JV2"),
    # names, contractions
    (
        "约瑟夫·高登-莱维特（Joseph Gordon-Levitt is an American actor）",
        "约瑟夫-高登-莱维特'Joseph Gordon-Levitt is an American actor'",
    ),
    ("克里斯托弗·诺兰执导，莱昂纳多·迪卡普里奥主演", "克里斯托弗-诺兰执导,莱昂纳多-迪卡普里奥主演"),
    ("where's the money?", "where is the money?"),
    ("The bit's value is 3.", "The bit is value is three."),  # no word boundary: upstream quirk kept
    ("Tom's cat and that's it", "Tom's cat and that is it"),
    # punctuation runs
    ("这酒...里...有毒...", "这酒…里…有毒…"),
    ("只有,,,才是最好的", "只有…才是最好的"),
    ("真的吗？？？不会吧……", "真的吗???不会吧…"),
    ("！！！？？？", "!!!???"),
    ("《三体》是刘慈欣的小说【科幻】", "'三体'是刘慈欣的小说'科幻'"),
    ("他说：“你好。”然后走了。", "他说,'你好.'然后走了."),
    ("~~~波浪线~~~", "---波浪线---"),
    ("(括号) [方括号] 「引号」", "'括号' '方括号' '引号'"),
    ("这是一行\n这是第二行", "这是一行 这是第二行"),
    (
        "Hello, world. This is a test! Is it working? Yes... it is.",
        "Hello, world. This is a test! Is it working? Yes… it is.",
    ),
    # interjections and erhua are kept (the grammar is compiled for that)
    ("嗯嗯，啊哈，哎呀呀，好玩儿", "嗯嗯,啊哈,哎呀呀,好玩儿"),
    # pronunciation annotations pass through untouched
    ("<行|hang2>业很重要", "<行|hang2>业很重要"),
    # a long sentence
    (
        "第十四届全国人民代表大会第一次会议于2023年3月5日在北京开幕，会议听取和审议了政府工作报告，"
        "选举产生了新一届国家机构组成人员，并通过了关于修改立法法的决定。",
        "第十四届全国人民代表大会第一次会议于二零二三年三月五日在北京开幕,会议听取和审议了政府工作报告,"
        "选举产生了新一届国家机构组成人员,并通过了关于修改立法法的决定.",
    ),
    # empty and whitespace-only
    ("", ""),
    ("   ", ""),
    ("a", "a"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALISED, ids=[t[:24] or "<empty>" for t, _ in NORMALISED])
def test_normalise(normalizer: TextNormalizer, text: str, expected: str):
    assert normalizer.normalize(text) == expected


def test_the_table_covers_at_least_forty_cases():
    assert len(NORMALISED) >= 40


@pytest.mark.parametrize(
    ("text", "chinese"),
    [
        ("你好", True),
        ("hello", False),
        ("12345", True),  # no Latin letter
        ("!!!", True),
        ("abc@example.com", True),
        ("ni3 hao3", True),  # toned pinyin
        ("beta2 release", False),
        ("It's 5 o'clock", False),
    ],
)
def test_language_decision(text, chinese):
    assert prefers_chinese(text) is chinese


@pytest.mark.parametrize(
    ("syllable", "spelled"),
    [("ju4", "JV4"), ("que4", "QVE4"), ("xuan2", "XVAN2"), ("jun1", "JVN1"), ("xi1", "XI1"), ("zhong4", "zhong4")],
)
def test_pinyin_spelling(syllable, spelled):
    assert spell_pinyin(syllable) == spelled


def test_glossary_readings_per_language(cache_dir, tmp_path):
    glossary = Glossary({"M.2": {"zh": "M 二", "en": "M dot two"}, "NVMe": "N V M E", "ZH-only": {"zh": "中文"}})
    glossary.save(tmp_path / "glossary.yaml")
    with_glossary = TextNormalizer(cache_dir, Glossary.load(tmp_path / "glossary.yaml"))
    assert with_glossary.normalize("这块m.2 nvme硬盘") == "这块M 二 N V M E硬盘"
    assert with_glossary.normalize("Buy an M.2 NVMe drive") == "Buy an M dot two N V M E drive"
    # a term with no English reading is written as the glossary spells it
    assert with_glossary.normalize("zh-only mode") == "ZH-only mode"


def test_glossary_file_errors_name_the_file(tmp_path):
    from indextts.errors import ConfigError

    bad = tmp_path / "glossary.yaml"
    bad.write_text("TTS: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"glossary.yaml.*'TTS'"):
        Glossary.load(bad)
    assert not Glossary.load(tmp_path / "absent.yaml")


def test_normaliser_is_safe_to_share_between_threads(normalizer: TextNormalizer):
    """The UI's live preview and the synthesis worker normalise at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [text for text, _ in NORMALISED] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(normalizer.normalize, texts))
    assert results == [expected for _, expected in NORMALISED] * 3
