// Chinese labels for everything the screens show: sip_config/labels.toml, the one copy (the
// engine words its texts with it too), served by the gateway as labels.json, with the
// work-order fields of sip_config/workorder.toml in display order as ORDER_FIELDS (a field the
// engine sends that is not listed is shown after these, under its own name).

function deepFreeze(value) {
  if (value && typeof value === "object") Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}

export const {
  ORDER_FIELDS,
  ADDRESS_PARTS,
  FIELD_VALUES,
  LEG,
  CALL_STATE,
  CALL_MODE,
  ALERT_LEVEL,
  EMOTION,
  RISK_KIND,
  AUTH_REASON,
  REFUSAL,
  LINK_STATE,
} = deepFreeze(await (await fetch(new URL("./labels.json", import.meta.url))).json());

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

export function label(table, key) {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : key;
}
