// JSON text of the app's own objects (the login credentials), read through own properties
// only: JSON.stringify would call an `Object.prototype.toJSON` a later script added, and hand
// it the credentials.
import { Date, dateTime, dateToIso, hasOwn, isA, isArray, keys, stringify } from "./captured.js";

/**
 * `value` as JSON, descending `depth` levels (deeper objects are written `{}`). Values JSON
 * cannot hold are left out as JSON.stringify leaves them (object members) or written `null`
 * (array items). Dates keep their JSON form. Throws what a getter or Proxy trap throws.
 */
export function encode(value, depth) {
  if (value === null) return "null";
  const type = typeof value;
  if (type === "string") return stringify(value);
  if (type === "boolean") return value ? "true" : "false";
  if (type === "number") return value - value === 0 ? "" + value : "null";
  if (type !== "object") return undefined;
  if (depth === 0) return "{}";
  // As `Date.prototype.toJSON` writes it, without its lookups of `toISOString` and
  // `Symbol.toPrimitive`, which a later script could answer.
  if (isA(value, Date)) {
    const time = dateTime(value);
    return time === time ? stringify(dateToIso(value)) : "null";
  }
  if (isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const item = hasOwn(value, i) ? encode(value[i], depth - 1) : undefined;
      out += (i ? "," : "") + (item ?? "null");
    }
    return out + "]";
  }
  let out = "{";
  const names = keys(value);
  for (let i = 0; i < names.length; i++) {
    const member = encode(value[names[i]], depth - 1);
    if (member !== undefined) out += (out.length > 1 ? "," : "") + stringify(names[i]) + ":" + member;
  }
  return out + "}";
}
