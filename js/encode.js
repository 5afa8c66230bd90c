// JSON text of the app's own objects (the options, the login credentials), read through own
// properties only: JSON.stringify would call an `Object.prototype.toJSON` a later script
// added, and hand it the credentials or let it rewrite `apiOrigins`.
import { apply, Date, dateToJson, hasOwn, isA, isArray, keys, stringify } from "./captured.js";

/**
 * `value` as JSON, descending `depth` levels. `marked`: a value JSON cannot hold becomes a
 * string starting with NUL that names its kind (what `Options::from_json` reads); otherwise
 * such values are left out as JSON.stringify leaves them (object members) or written `null`
 * (array items). Dates keep their JSON form. Throws what a getter or Proxy trap throws.
 */
export function encode(value, depth, marked) {
  if (value === null) return "null";
  const type = typeof value;
  if (type === "string") return apply(stringify, undefined, [value]);
  if (type === "boolean") return value ? "true" : "false";
  if (type === "number") {
    if (value - value === 0) return "" + value;
    return marked ? '"\\u0000a number"' : "null";
  }
  if (type === "undefined") return marked ? '"\\u0000undefined"' : undefined;
  if (type !== "object" || depth === 0) {
    if (!marked) return type === "object" ? "{}" : undefined;
    const kind = type !== "object" ? "a " + type : isArray(value) ? "an array" : "an object";
    return '"\\u0000' + kind + '"';
  }
  if (isA(value, Date)) return apply(stringify, undefined, [apply(dateToJson, value, [])]);
  if (isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const item = apply(hasOwn, value, [i]) ? encode(value[i], depth - 1, marked) : undefined;
      out += (i ? "," : "") + (item ?? "null");
    }
    return out + "]";
  }
  let out = "{";
  const names = keys(value);
  for (let i = 0; i < names.length; i++) {
    const member = encode(value[names[i]], depth - 1, marked);
    if (member !== undefined) out += (out.length > 1 ? "," : "") + apply(stringify, undefined, [names[i]]) + ":" + member;
  }
  return out + "}";
}
