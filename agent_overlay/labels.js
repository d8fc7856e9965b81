// Chinese labels for everything the screens show. Data only; one place to translate or adjust.

// Work-order fields in display order. The names and labels follow sip_config/workorder.toml;
// a field the engine sends that is not listed here is shown after these, under its own name.
export const ORDER_FIELDS = Object.freeze([
  ["caller_name", "来电人"],
  ["callback_phone", "回访电话"],
  ["id_number", "身份证号"],
  ["address", "事发地址"],
  ["incident_time", "事发时间"],
  ["request_type", "诉求类型"],
  ["category", "诉求分类"],
  ["urgency", "紧急程度"],
  ["summary", "诉求摘要"],
  ["department", "承办单位"],
  ["dispatch", "派单"],
  ["duplicate_of", "疑似重复"],
]);

// Parts of the parsed address (engine/assist/workorder.py DEFAULT_ADDRESS_COMPONENTS), shown
// as "address.<part>" fields after the order's own fields.
export const ADDRESS_PARTS = Object.freeze({
  province: "省份",
  city: "城市",
  district: "区县",
  town: "街道/乡镇",
  community: "社区",
  road: "道路",
  roadno: "路号",
  poi: "小区/地标",
  subpoi: "楼栋/附属",
  houseno: "楼号",
  cellno: "单元",
  floorno: "楼层",
  roomno: "房号",
});

// Coded values the engine sends for some fields, and what the agent reads instead.
export const FIELD_VALUES = Object.freeze({
  urgency: Object.freeze({ normal: "一般", urgent: "紧急", emergency: "特急" }),
  dispatch: Object.freeze({ ready: "可直接派单", review: "需人工复核" }),
});

export function fieldLabel(name) {
  const known = ORDER_FIELDS.find(([n]) => n === name);
  if (known) return known[1];
  if (name.startsWith("address.")) {
    const part = name.slice("address.".length);
    return `地址·${label(ADDRESS_PARTS, part)}`;
  }
  return name;
}

// The value as shown in the field, and back: an agent who types 紧急 sends "urgent".
export function shownValue(name, value) {
  const table = FIELD_VALUES[name];
  return table ? label(table, value) : value;
}

export function codedValue(name, shown) {
  const table = FIELD_VALUES[name];
  if (!table) return shown;
  const found = Object.entries(table).find(([, text]) => text === shown);
  return found ? found[0] : shown;
}

// Fields shown as a multi-line text box.
export const LONG_FIELDS = Object.freeze(new Set(["summary", "address"]));

export const LEG = Object.freeze({ caller: "市民", agent: "话务员" });

export const CALL_STATE = Object.freeze({
  ringing: "振铃中",
  talking: "通话中",
  on_hold: "保持中",
  wrap_up: "话后处理",
  ended: "已结束",
});

export const CALL_MODE = Object.freeze({
  assist: "人工坐席",
  ivr: "语音导航",
  after_hours: "自动受理",
});

export const ALERT_LEVEL = Object.freeze({ info: "提示", warning: "警告", critical: "紧急" });

export const EMOTION = Object.freeze({
  angry: "愤怒",
  anger: "愤怒",
  anxious: "焦虑",
  anxiety: "焦虑",
  sad: "悲伤",
  sadness: "悲伤",
  fear: "恐惧",
  frustrated: "不满",
  negative: "负面",
  neutral: "平静",
  calm: "平静",
  positive: "正面",
  surprise: "惊讶",
  happy: "满意",
});

// Risk kinds of engine/alerts/risk.py, plus the two the screens derive (duplicate, repeat).
export const RISK_KIND = Object.freeze({
  duplicate_ticket: "疑似重复工单",
  duplicate: "疑似重复工单",
  repeat_caller: "重复来电",
  self_harm: "自伤/轻生风险",
  suicide: "自伤/轻生风险",
  violence: "暴力事件",
  threat: "威胁他人",
  gas_leak: "燃气泄漏",
  fire: "火情",
  medical: "急症/伤病",
  trapped: "人员被困",
  vulnerable_person: "儿童/老人处境危险",
  mass_incident: "群体性事件",
  media: "媒体曝光",
  complaint_escalation: "越级投诉",
  legal: "法律风险",
  sensitive: "敏感话题",
});

// Why a token was refused (docs/screen-protocol.md, "Welcome, or refusal").
export const AUTH_REASON = Object.freeze({
  missing: "未提供令牌",
  malformed: "令牌格式不正确",
  bad_signature: "令牌无效（签名不符，可能来自其他系统或已被改动）",
  expired: "令牌已过期",
  timeout: "连接超时，未能完成登录",
  wrong_role: "此令牌仅用于音频接入，不能打开坐席或班长页面",
});

// Why the gateway refused a request about a call (follow, edit).
export const REFUSAL = Object.freeze({
  forbidden: "不在您的权限范围内",
  not_found: "没有这通电话",
  unavailable: "引擎未启用工单回传",
  too_many_follows: "同时打开的通话过多",
  already_following: "已在显示",
  bad_fields: "内容不符合要求",
});

export const LINK_STATE = Object.freeze({
  idle: "未连接",
  connecting: "连接中…",
  open: "已连接",
  reconnecting: "连接中断，正在重连…",
  auth_failed: "登录失败",
  failed: "连接失败",
});

export function label(table, key) {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : key;
}
