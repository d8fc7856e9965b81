"""Callers' names from spoken Chinese: 我叫王小明, 我姓王，三横王, 免贵姓李，木子李, 王先生.

Rules over the text (no model): a self-introduction followed by a known surname and one or two
given-name characters; 姓X with or without the spoken description of the character (弓长张,
耳东陈, 木子李); a surname followed by an honorific (先生, 女士, 阿姨, 师傅…). Names are
personal data: callers of this module never log them unmasked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Common surnames (single characters), roughly by frequency.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
    "祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟"
    "艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣"
    "晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉"
    "银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = frozenset(
    ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
     "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "澹台", "申屠"]
)  # fmt: skip
#: How a caller spells a surname out: the description -> the character.
DESCRIPTIONS = {
    "三横王": "王", "三横一竖王": "王", "木子李": "李", "弓长张": "张", "立早章": "章",
    "耳东陈": "陈", "口天吴": "吴", "双木林": "林", "草头黄": "黄", "古月胡": "胡",
    "言午许": "许", "人可何": "何", "文刀刘": "刘", "关耳郑": "郑", "走肖赵": "赵",
    "禾口程": "程", "双人徐": "徐", "子小孙": "孙", "木易杨": "杨", "日天昊": "昊",
    "三点水的江": "江", "三点水江": "江", "三点水的汪": "汪", "草字头的黄": "黄",
    "马路的马": "马", "周末的周": "周", "高低的高": "高", "朱红的朱": "朱", "宋朝的宋": "宋",
}  # fmt: skip
HONORIFICS = (
    "先生", "女士", "小姐", "阿姨", "叔叔", "师傅", "老师", "大爷", "大妈", "大姐", "大哥",
    "奶奶", "爷爷", "老板", "经理", "同志", "医生", "主任", "姐", "哥",
)  # fmt: skip
#: Self-introductions before a name; a bare 叫 counts only at the start of a clause.
_INTRO = (
    "我的名字叫", "我的名字是", "名字叫", "名字是", "全名叫", "全名是", "我叫", "姓名是", "姓名",
    "叫我", "我是", "(?:^|(?<=[，,、\\s]))叫",
)  # fmt: skip
#: Characters that do not belong to a given name (particles, pronouns, verbs that follow it).
_STOP = frozenset(
    "的了呢吧啊呀嘛哦嗯我你他她是在住家电话手机号今年身份证要想打就也都还和跟对不没有这那个，。！？、 ,.!?"
)
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A name or a surname with an honorific, its span [start, end) and a confidence."""

    full_name: str | None
    surname: str
    honorific: str | None
    start: int
    end: int
    confidence: float


def _surname_at(text: str, i: int) -> str | None:
    if text[i : i + 2] in COMPOUND_SURNAMES:
        return text[i : i + 2]
    if text[i : i + 1] in SURNAMES:
        return text[i]
    return None


def _given_name(text: str, i: int) -> str:
    out = ""
    while len(out) < 2 and i < len(text) and _HAN.match(text[i]) and text[i] not in _STOP:
        out += text[i]
        i += 1
    return out


def _honorific_at(text: str, i: int) -> str | None:
    for word in HONORIFICS:
        if text.startswith(word, i):
            return word
    return None


def _introductions(text: str) -> list[NameMatch]:
    out: list[NameMatch] = []
    for intro in _INTRO:
        for m in re.finditer(intro, text):
            i = m.end()
            surname = _surname_at(text, i)
            if surname is None:
                continue
            j = i + len(surname)
            honorific = _honorific_at(text, j)
            if honorific is not None:
                out.append(NameMatch(None, surname, honorific, i, j + len(honorific), 0.8))
                continue
            given = _given_name(text, j)
            if not given:
                continue
            confidence = 0.9 if intro != "我是" else 0.75  # 我是… is often 我是那个…
            out.append(NameMatch(surname + given, surname, None, i, j + len(given), confidence))
    return out


def _surname_statements(text: str) -> list[NameMatch]:
    out: list[NameMatch] = []
    for m in re.finditer("姓", text):
        i = m.end()
        surname = _surname_at(text, i)
        before = text[max(0, m.start() - 2) : m.start()]
        # 老百姓 is "the public"; 您贵姓 is the agent asking (免贵姓 is the answer).
        if surname is None or before.endswith("百") or (before.endswith("贵") and before != "免贵"):
            continue
        end = i + len(surname)
        confidence = 0.85
        # The spelling-out that often follows: 姓王，三横王 / 姓张，是弓长张.
        rest = re.match(r"[，,、\s]*(?:是|就是)?(?:那个)?", text[end:])
        k = end + (rest.end() if rest else 0)
        for desc, char in DESCRIPTIONS.items():
            if text.startswith(desc, k) and char == surname:
                end, confidence = k + len(desc), 0.95
                break
        honorific = _honorific_at(text, i + len(surname))
        out.append(NameMatch(None, surname, honorific, i, end, confidence))
    return out


def _descriptions_alone(text: str) -> list[NameMatch]:
    out: list[NameMatch] = []
    for desc, char in DESCRIPTIONS.items():
        if len(desc) < 3:
            continue
        for m in re.finditer(re.escape(desc), text):
            out.append(NameMatch(None, char, None, m.start(), m.end(), 0.7))
    return out


def _honorific_mentions(text: str) -> list[NameMatch]:
    out: list[NameMatch] = []
    for word in HONORIFICS:
        if len(word) < 2:
            continue  # 王姐 / 李哥 are too easily part of other words
        for m in re.finditer(re.escape(word), text):
            for size in (2, 1):
                i = m.start() - size
                if i < 0:
                    continue
                surname = text[i : m.start()]
                if (size == 2 and surname in COMPOUND_SURNAMES) or (
                    size == 1 and surname in SURNAMES
                ):
                    out.append(NameMatch(None, surname, word, i, m.end(), 0.75))
                    break
    return out


def extract_names(text: str) -> list[NameMatch]:
    """Names and surnames said in ``text``, one per span (the strongest reading where two
    rules found overlapping spans), in order of appearance."""
    found = [
        *_introductions(text),
        *_surname_statements(text),
        *_honorific_mentions(text),
        *_descriptions_alone(text),
    ]
    found.sort(key=lambda m: (-m.confidence, -(m.end - m.start)))
    kept: list[NameMatch] = []
    for match in found:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)
