// What this gateway's protocol offers, read from the schema it serves
// (/assets/protocol.v1.schema.json, generated from engine/events.py and
// engine/gateway/protocol.py). The screens send a message only if the schema lists it, so an
// older engine never sees a message it would count as bad; the screen keeps the action locally
// and says so instead.

export const SCHEMA_URL = "/assets/protocol.v1.schema.json";

// Screen -> engine actions, and the message type the screens use for each when the engine
// offers it. The field names of each message are read from the schema too.
export const ACTIONS = Object.freeze({
  edit: ["ticket.edit", "edit_field", "field_edit", "edit"],
  submit: ["ticket.submit", "submit_ticket", "submit"],
  dispatch: ["ticket.dispatch", "dispatch_ticket", "dispatch"],
});

export class Protocol {
  constructor(schema) {
    this.version = schema?.version ?? 1;
    this.messages = new Map(); // type -> {properties, required}
    this.events = new Set();
    const defs = schema?.$defs || {};
    const collect = (refs, into) => {
      for (const ref of refs || []) {
        const def = defs[String(ref.$ref || "").split("/").pop()];
        const typeProp = def?.properties?.type;
        const name = typeProp?.const ?? typeProp?.enum?.[0];
        if (name) into(name, def);
      }
    };
    collect(schema?.messages, (name, def) =>
      this.messages.set(name, {
        properties: Object.keys(def.properties || {}),
        required: def.required || [],
      }),
    );
    collect(schema?.events, (name) => this.events.add(name));
  }

  static async load() {
    try {
      const res = await fetch(SCHEMA_URL, { cache: "no-cache" });
      if (!res.ok) throw new Error(String(res.status));
      return new Protocol(await res.json());
    } catch {
      return new Protocol(null);
    }
  }

  // The wire type for an action, or null when this engine does not take it.
  actionType(action) {
    return (ACTIONS[action] || []).find((name) => this.messages.has(name)) || null;
  }

  // Build the message for an action from named values, keeping only the fields the schema
  // declares; null when the engine does not take the action or a required field is missing.
  build(action, values) {
    const type = this.actionType(action);
    if (!type) return null;
    const spec = this.messages.get(type);
    const message = { type };
    for (const name of spec.properties) {
      if (name !== "type" && values[name] !== undefined) message[name] = values[name];
    }
    return spec.required.every((name) => name in message) ? message : null;
  }
}
