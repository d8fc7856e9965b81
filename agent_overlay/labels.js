// Chinese labels for everything the screens show. Data only; one place to translate or adjust
// (with engine/labels.py for the tables the engine shares).

// Tables the engine also words texts with come from engine/labels.py, which the gateway serves
// as labels.json: the work-order fields in display order (sip_config/workorder.toml; a field
// the engine sends that is not listed is shown after these, under its own name), risk kinds,
// emotions and alert levels.
const shared = await (await fetch(new URL("./labels.json", import.meta.url))).json();
export const ORDER_FIELDS = Object.freeze(shared.order_fields);
export const RISK_KIND = Object.freeze(shared.risk_kind);
export const EMOTION = Object.freeze(shared.emotion);
export const ALERT_LEVEL = Object.freeze(shared.alert_level);

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
