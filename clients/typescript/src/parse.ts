// Parses the flags.json document of the ConfigMap flag store into FlagState values, with
// the rules of the C++ reference (include/agentrollout/flag_client_json.h): a malformed
// entry is left out and reported, and the other entries stay usable, so one bad key in a
// shared ConfigMap does not switch every flag off. Never throws.
import type { FlagState } from "./evaluate";

export interface ParsedFlags {
  /** False when the document is not a JSON object: nothing in it could be read. */
  readable: boolean;
  flags: Map<string, FlagState>;
  /** e.g. `voice_agent_v2.percentage: must be an integer 0..100, got 140` */
  errors: string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function has(entry: { [key: string]: Json }, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(entry, field);
}

function readTenants(
  entry: { [key: string]: Json },
  key: string,
  field: string,
  errors: string[],
): string[] | undefined {
  const value = has(entry, field) ? entry[field] : null;
  if (value === null) return [];
  if (!Array.isArray(value) || !value.every((tenant) => typeof tenant === "string")) {
    errors.push(`${key}.${field}: must be an array of strings, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value as string[];
}

function readEntry(key: string, entry: Json, errors: string[]): FlagState | undefined {
  if (!isObject(entry)) {
    errors.push(`${key}: must be an object, got ${JSON.stringify(entry)}`);
    return undefined;
  }
  let enabled = false;
  if (has(entry, "enabled")) {
    if (typeof entry.enabled !== "boolean") {
      errors.push(`${key}.enabled: must be true or false, got ${JSON.stringify(entry.enabled)}`);
      return undefined;
    }
    enabled = entry.enabled;
  }
  let percentage = 0;
  if (has(entry, "percentage")) {
    const value = entry.percentage;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 100) {
      errors.push(`${key}.percentage: must be an integer 0..100, got ${JSON.stringify(value)}`);
      return undefined;
    }
    percentage = value;
  }
  const enabledTenants = readTenants(entry, key, "enabledTenants", errors);
  const disabledTenants = enabledTenants && readTenants(entry, key, "disabledTenants", errors);
  if (enabledTenants === undefined || disabledTenants === undefined) return undefined;
  return { key, enabled, percentage, enabledTenants, disabledTenants };
}

export function parseFlags(document: string): ParsedFlags {
  const parsed: ParsedFlags = { readable: false, flags: new Map(), errors: [] };
  let doc: Json;
  try {
    doc = JSON.parse(document) as Json;
  } catch {
    parsed.errors.push("flags document: not valid JSON");
    return parsed;
  }
  if (!isObject(doc)) {
    parsed.errors.push("flags document: must be a JSON object of flag key -> state");
    return parsed;
  }
  parsed.readable = true;
  for (const [key, entry] of Object.entries(doc)) {
    const flag = readEntry(key, entry, parsed.errors);
    if (flag !== undefined) parsed.flags.set(key, flag);
  }
  return parsed;
}
