"""Risk detection in caller speech: emergencies hidden inside ordinary complaints.

A pure rule core. :func:`find_risks` takes one utterance's text and returns the risks it names;
:class:`RiskDetector` keeps per-call state (which kinds already fired) and turns transcripts into
urgent :class:`~jiesu.engine.events.RiskAlert` events with the transfer target (110 / 119 / 120)
in the reason, at most once per kind per call, so an alert arrives within the utterance that
raised it (partials included) and is never repeated for every later partial.

Recall matters more than precision, so the triggers are broad; what keeps ordinary complaints
quiet is the *passing-mention mask*: idioms and compounds in which 火 or 死 carry no danger
(火车站, 火锅店, 发火, 气死我了, 死胡同, 死机, 跳楼价 ...) are blanked out before the triggers
are matched. A short negation right before a trigger (没有着火, 不是火灾) also suppresses it.
Measured on ``bench/data/risk_phrases.tsv`` by ``jiesu bench risk``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from jiesu.engine.events import AlertLevel, RiskAlert, TranscriptFinal, TranscriptPartial
from jiesu.engine.labels import RISK_KIND

#: Risk kinds and the emergency number an agent should transfer or conference to by default;
#: ``sip_config/alerts.toml`` may override the targets.
DEFAULT_TARGETS: Mapping[str, str] = {
    "self_harm": "110",
    "threat": "110",
    "violence": "110",
    "gas_leak": "119",
    "fire": "119",
    "medical": "120",
    "trapped": "119",
    "vulnerable_person": "110",
}

# Compounds and idioms in which a trigger character carries no danger. Blanked (same length, so
# quote offsets stay valid) before the triggers run.
_PASSING = re.compile(
    "|".join(
        (
            r"火车|火锅|火腿|火柴|火箭|火龙果|火候|火速|火爆|火热|火红|红火|火气|发火|上火|恼火|"
            r"冒火|窝火|来火|动火|肝火|心火|怒火|火大|火冒三丈|鬼火|烟火气|点火器|打火机|火葬|"
            r"火山|火星|火力|柴火|烟火|灯火|炉火|开火车|火柴盒",
            # X死(我|人|了) after a feeling or state: 气死我了, 烦死了, 累死人, 笑死 ...
            r"(?:气|烦|累|笑|热|冷|吵|急|饿|困|忙|闷|臭|难受|丑|懒|渴|晒|挤|堵|愁|馋|麻烦|"
            r"郁闷|心烦|折腾|坑|贵|慢|磨叽|烦人)死(?:我|人|你|他|她|了|啦|掉了)?",
            r"死胡同|死机|死角|死板|死心|死活|死贵|死磕|死等|死缠|死扣|死记|死守|死皮赖脸|"
            r"死不认账|死不承认|死不悔改|死路一条|死循环|死账|死档|死线|半死不活|要死不活|"
            r"死刑|死亡证明|死亡登记|死亡证|去世证明|死者家属的抚恤|死缓",
            r"跳楼价|跳楼大甩卖|跳槽|打人家|打人员|打车|打电话|打架子鼓|打官司|打卡|打折|打印|"
            r"打扫|打工|打听|打款|打针|打疫苗|杀毒|杀虫|杀价|秒杀|抹杀|砍价|砍树|砍伐|"
            r"炸鸡|炸酱|油炸|炸串|炸薯条|爆炸头|血压计|出血点|献血|验血|血糖|血常规|"
            r"燃气费|燃气卡|燃气公司|燃气表|燃气灶|燃气热水器|燃气开户|燃气过户|煤气费|煤气罐充值|"
            r"救护车费用|救护车收费|急救站的电话|消防通道被占|消防通道堵|消防栓|消防检查|消防验收|"
            r"被困扰|困扰|困难户|困难补助|生活困难|经济困难|困难群众|困了|犯困|"
            r"容易受伤|会受伤|可能受伤|怕受伤|防止受伤|避免受伤|容易摔倒|怕摔倒",
        )
    )
)

# Negations that, right before a trigger, mean the danger is denied (没有着火, 不是火灾).
_NEGATION = re.compile(r"(?:没有|没|不是|并没有|并非|未|无)$")

_TRIGGERS: Mapping[str, Sequence[str]] = {
    "self_harm": (
        r"不想活|活不下去|没法活|活着没意思|活着还有什么意思|想死|寻死|自杀|轻生|寻短见|"
        r"跳楼|跳河|跳江|跳湖|跳桥|割腕|上吊|喝农药|吃了?.{0,4}安眠药|吞药|烧炭|一了百了|"
        r"结束自己的生命|结束生命|死给你们看|死在你们|死了算了|不如死了|从楼上跳下去|"
        r"从.{0,4}跳下去|以死|撞死在|我就去死|我去死",
    ),
    "threat": (
        r"弄死|杀了(?:他|她|你|我们|他们|你们|全家|那个)|杀人|砍死|捅死|打死(?:他|她|你|他们)|同归于尽|"
        r"炸了(?:你们|他们|它)|把.{1,8}炸了|炸掉|炸平|放火烧|一把火烧|烧了(?:你们|他们|他家)|"
        r"报复社会|报复他|报复你们|要(?:他|你|他们)的命|拿刀去|带刀去|提刀|找人收拾|"
        r"让(?:他|你|他们)好看|血债血偿|泼汽油|浇汽油",
    ),
    "violence": (
        r"打人(?!家|员)|被打|挨打|殴打|打架|斗殴|持刀|拿着刀|砍人|砍伤|捅人|捅伤|家暴|家庭暴力|"
        r"抢劫|被抢|抢东西|打伤|打得头破血流|动手打|拳打脚踢|施暴|围殴|群殴|打起来了|行凶|"
        r"被.{0,4}打(?:了|得)|强奸|猥亵|绑架|非法拘禁|"
        r"打(?:老婆|老公|媳妇|孩子|小孩|老人|一个女的|一个男的|女人)|在打(?:人|一个)",
    ),
    "gas_leak": (
        r"(?:煤气|燃气|天然气|液化气|沼气)(?:.{0,4})(?:泄漏|泄露|漏了|漏气|在漏|味|爆炸|爆了)|"
        r"漏气|闻到.{0,4}(?:煤气|燃气|天然气)|(?:煤气|燃气)罐.{0,4}(?:漏|爆)|一股.{0,2}气味.{0,6}"
        r"(?:煤气|燃气)|中煤气|煤气中毒|一氧化碳|(?:煤气|燃气|天然气)管.{0,8}(?:断|破|漏)",
    ),
    "fire": (
        r"着火|起火|失火|火灾|火警|火势|大火|火很大|火烧起来|烧起来|烧着了|烧了起来|"
        r"冒烟|浓烟|黑烟|冒火星|火苗|燃起来|爆炸|电瓶车.{0,4}(?:炸|燃)|充电.{0,6}(?:炸|燃|烧)|"
        r"烟很大|全是烟|烧焦|消防车|叫消防|(?<!\d)119(?!\d)",
    ),
    "medical": (
        r"晕倒|昏倒|昏迷|昏过去|晕过去|不省人事|叫不醒|没有意识|没意识|没有呼吸|没呼吸|没了呼吸|"
        r"呼吸困难|喘不上气|喘不过气|心脏病|心梗|心肌梗|脑梗|中风|脑溢血|抽搐|抽筋.{0,4}口吐白沫|"
        r"口吐白沫|大出血|流了很多血|血流不止|流血不止|吐血|便血|中毒|休克|摔倒.{0,6}(?:起不来|不动)|"
        r"倒在地上|倒地不起|快不行了|不行了快|没气了|断气|救护车|急救|(?<!\d)120(?!\d)|"
        r"高烧不退|烧到四十|过敏.{0,4}(?:肿|喘)|骨折|摔伤|撞伤|受伤|被车撞|车祸|出车祸|"
        r"孕妇.{0,6}(?:出血|要生|羊水)|羊水破|要生了",
    ),
    "trapped": (
        r"被困|困在|被关在|关在.{0,6}(?:里|出不来)|锁在.{0,6}(?:里|出不来)|出不来了|"
        r"电梯.{0,8}(?:困|关着)|卡在电梯|电梯里.{0,6}出不去|被埋|埋在.{0,8}下面|压在.{0,8}下面|"
        r"掉(?:到|进).{0,4}(?:井|河|坑|水|沟)|掉进|落水|"
        r"溺水|掉到河里|掉进河里|掉井里|掉下去了|被淹|水淹.{0,4}(?:人|老人|孩子)|"
        r"出不去了|逃不出|困住",
    ),
    "vulnerable_person": (
        r"(?:孩子|小孩|儿子|女儿|宝宝|娃|小朋友|老人|老太太|老爷子|老大爷|老奶奶|老父亲|老母亲|"
        r"我爸|我妈|我奶奶|我爷爷|婴儿)(?:.{0,12})(?:不见了|被人带走|丢了|走丢|失踪|找不到了|被拐|被抱走|"
        r"被带走|联系不上|没动静|一个人在家|反锁在|在阳台|爬到窗|站在窗|被虐待|被打|被关|挨饿|"
        r"发高烧|没人管|被遗弃|被扔)|拐卖|拐走|虐待|虐童|遗弃|弃婴|独居老人.{0,10}(?:没动静|"
        r"联系不上|好几天没|没开门)",
    ),
}


@dataclass(frozen=True, slots=True)
class RiskHit:
    """One risk named in an utterance: its kind, the matched words and where they are."""

    kind: str
    words: str
    start: int
    end: int


def _compile(triggers: Mapping[str, Sequence[str]]) -> dict[str, re.Pattern[str]]:
    return {kind: re.compile("|".join(parts)) for kind, parts in triggers.items()}


@dataclass(frozen=True, slots=True)
class RiskRules:
    """Compiled triggers per kind and the passing-mention mask; build once, share across calls."""

    triggers: Mapping[str, re.Pattern[str]] = field(default_factory=lambda: _compile(_TRIGGERS))
    passing: re.Pattern[str] = _PASSING
    targets: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TARGETS))

    @classmethod
    def with_extra(
        cls, extra: Mapping[str, Sequence[str]], passing: Sequence[str], targets: Mapping[str, str]
    ) -> RiskRules:
        """Built-in rules plus configured extra trigger words per kind and extra passing words."""
        merged = {k: (*v, *(re.escape(w) for w in extra.get(k, ()))) for k, v in _TRIGGERS.items()}
        mask = _PASSING.pattern + "".join("|" + re.escape(w) for w in passing)
        return cls(_compile(merged), re.compile(mask), {**DEFAULT_TARGETS, **targets})


def _mask(text: str, passing: re.Pattern[str]) -> str:
    return passing.sub(lambda m: "\u3000" * len(m.group(0)), text)


def find_risks(text: str, rules: RiskRules) -> list[RiskHit]:
    """Every risk kind the text names (first match per kind), in order of appearance."""
    masked = _mask(text, rules.passing)
    hits: list[RiskHit] = []
    for kind, pattern in rules.triggers.items():
        for match in pattern.finditer(masked):
            if _NEGATION.search(masked[max(0, match.start() - 3) : match.start()]):
                continue
            hits.append(RiskHit(kind, text[match.start() : match.end()], *match.span()))
            break
    return sorted(hits, key=lambda h: h.start)


@dataclass(frozen=True, slots=True)
class RiskState:
    """Per-call state: the kinds that already raised an alert (each fires once per call)."""

    fired: frozenset[str] = frozenset()


def _quote(text: str, hit: RiskHit, width: int = 12) -> str:
    return text[max(0, hit.start - width) : hit.end + width]


def risk_step(
    state: RiskState, event: TranscriptFinal | TranscriptPartial, rules: RiskRules
) -> tuple[RiskState, list[RiskAlert]]:
    """One transcript (final or partial, caller or mixed leg) in; urgent alerts out.

    The caller of this function chooses the legs; agents also say 119 and 120 when they
    advise, so only the caller (or a mixed) leg should be fed.
    """
    alerts: list[RiskAlert] = []
    fired = set(state.fired)
    for hit in find_risks(event.text, rules):
        if hit.kind in fired:
            continue
        fired.add(hit.kind)
        target = rules.targets.get(hit.kind, "110")
        reason = f"{RISK_KIND.get(hit.kind, hit.kind)}：“{hit.words}”，建议转接 {target}"
        alerts.append(RiskAlert(hit.kind, AlertLevel.CRITICAL, reason, _quote(event.text, hit)))
    if not alerts:
        return state, []
    return replace(state, fired=frozenset(fired)), alerts
