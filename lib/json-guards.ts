/** Small guards for validating `unknown` JSON at the wire boundary. */

/** A plain JSON object (not null, not an array). */
export type JsonObject = Record<string, unknown>;

/** True when `value` is a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Quotes a value for an error message, cut to a readable length. */
export function quote(value: unknown, maxLength = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}
