/**
 * Plain-JSON helpers for undoing a change exactly: comparing what the object holds now with what a change left
 * (the apiserver omits empty lists and maps, so they count as absent), and the JSON merge patch (RFC 7386) that
 * turns one value into another — keys the target lacks are set to null, lists are replaced whole.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value with undefined, null, empty lists and empty maps dropped and map keys sorted; undefined if nothing is left. */
export function normalised(value: unknown): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    const items = value.map(normalised).filter((v): v is Json => v !== undefined);
    return items.length ? items : undefined;
  }
  if (isObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => [k, normalised(value[k])] as const)
      .filter((e): e is readonly [string, Json] => e[1] !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  return undefined;
}

/** Whether two values are the same JSON, as the apiserver would store them. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalised(a) ?? null) === JSON.stringify(normalised(b) ?? null);
}

/**
 * The JSON merge patch that turns `current` into `target` (undefined when they are the same already): maps are
 * patched key by key, a key `target` lacks becomes null (removed), anything else is replaced by `target`'s value.
 */
export function mergePatchBetween(current: unknown, target: unknown): Json | undefined {
  if (sameJson(current, target)) return undefined;
  const want = normalised(target);
  if (want === undefined) return null;
  if (!isObject(current) || !isObject(want)) return want;
  const patch: Record<string, Json> = {};
  for (const key of new Set([...Object.keys(current), ...Object.keys(want)])) {
    const change = mergePatchBetween(current[key], want[key]);
    if (change !== undefined) patch[key] = change;
  }
  return patch;
}
