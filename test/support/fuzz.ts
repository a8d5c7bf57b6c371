/**
 * A small seeded property-based generator for the webhook fuzz (test/support/webhook-fuzz.ts): random JSON,
 * hostile strings, and structure-aware mutations of valid payloads. Seeded, so a failure names the seed and
 * index that reproduce it. (fast-check is not a dependency of this repository; this covers what the fuzz
 * needs — generation and mutation — without shrinking: a failing case is printed whole instead.)
 */

/** mulberry32: tiny, fast, good enough to spread cases; not for cryptography. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** Strings that broke parsers somewhere: prototype keys, escapes, Unicode edge cases, Kubernetes-ish names. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '../../etc/passwd',
  'a/b',
  'web-1',
  'shop',
  'kube-system',
  'talon-system',
  'Shop Prod',
  'UPPER',
  'x'.repeat(64),
  'x'.repeat(300),
  'y'.repeat(20_000),
  '\u0000',
  '\n\r\t',
  '\ud800',
  '\udfff\ud800',
  '😀',
  'e\u0301',
  'ｗｅｂ',
  'İstanbul',
  'High memory usage',
  'メモリ使用率が高い',
  '"; DROP TABLE alerts; --',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '%00',
  'firing',
  'resolved',
  'pending',
  '4',
  '3',
  '1',
  '0001-01-01T00:00:00Z',
  '2026-11-25T10:00:00Z',
  '2021-10-12T09:51:03.157076+02:00',
  'not-a-date',
  'a1b2c3d4e5f60718',
  'has space',
  '-leading',
  'trailing-',
  'a.b.c',
  'quality',
  'energy',
  'speed',
  'cost',
  'quality=70,energy=30',
  'quality=-1',
  'quality=NaN',
  'interpolation',
  'outlier-removal',
  'data-casting',
];

const NUMBERS: readonly number[] = [0, -0, 1, -1, 0.5, 70, 30, 1e308, -1e308, 2 ** 53, 4.9e-324, 123456789];

export function randomString(r: Rng): string {
  if (r.bool(0.6)) return r.pick(NASTY_STRINGS);
  const length = r.int(0, 24);
  let out = '';
  for (let i = 0; i < length; i++) {
    const kind = r.int(0, 9);
    if (kind < 6) out += String.fromCharCode(r.int(0x20, 0x7e));
    else if (kind < 8) out += String.fromCharCode(r.int(0xa0, 0x2fff));
    else if (kind < 9) out += String.fromCharCode(r.int(0, 0x1f));
    else out += String.fromCodePoint(r.int(0x1f300, 0x1f64f));
  }
  return out;
}

/** Any JSON value, depth-bounded; objects sometimes carry prototype-named keys as own properties. */
export function randomJson(r: Rng, depth = 3): unknown {
  const kind = r.int(0, depth > 0 ? 7 : 4);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.bool();
    case 2:
      return r.pick(NUMBERS);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return Array.from({ length: r.int(0, 4) }, () => randomJson(r, depth - 1));
    default: {
      const entries: [string, unknown][] = Array.from({ length: r.int(0, 5) }, () => [
        randomString(r),
        randomJson(r, depth - 1),
      ]);
      return Object.fromEntries(entries);
    }
  }
}

type Path = (string | number)[];

/** Every path to a value inside `value` (objects and arrays), the root included. */
function paths(value: unknown, prefix: Path = [], out: Path[] = [], limit = 400): Path[] {
  if (out.length >= limit) return out;
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out, limit));
  else if (value !== null && typeof value === 'object')
    for (const k of Object.keys(value)) paths((value as Record<string, unknown>)[k], [...prefix, k], out, limit);
  return out;
}

function parentOf(root: unknown, path: Path): [Record<string | number, unknown>, string | number] | undefined {
  if (path.length === 0) return undefined;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  return [node, path[path.length - 1]!];
}

/** Mutations a sender, a proxy or an attacker could make to a valid payload. */
const MUTATIONS = [
  'delete',
  'null',
  'replace',
  'string',
  'number',
  'empty-object',
  'empty-array',
  'proto-key',
  'constructor-key',
  'duplicate',
  'huge-string',
] as const;

/** Applies `count` random mutations to a deep copy of `value`. */
export function mutate(r: Rng, value: unknown, count: number): unknown {
  let root = structuredClone(value);
  for (let i = 0; i < count; i++) {
    const all = paths(root);
    const path = r.pick(all);
    const op = r.pick(MUTATIONS);
    const located = parentOf(root, path);
    const set = (v: unknown): void => {
      if (located) located[0][located[1]] = v;
      else root = v;
    };
    const current = located ? located[0][located[1]] : root;
    switch (op) {
      case 'delete':
        if (located) {
          if (Array.isArray(located[0])) located[0].splice(Number(located[1]), 1);
          else delete located[0][located[1]];
        }
        break;
      case 'null':
        set(null);
        break;
      case 'replace':
        set(randomJson(r, 2));
        break;
      case 'string':
        set(randomString(r));
        break;
      case 'number':
        set(r.pick(NUMBERS));
        break;
      case 'empty-object':
        set({});
        break;
      case 'empty-array':
        set([]);
        break;
      case 'proto-key':
      case 'constructor-key':
        if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
          const key = op === 'proto-key' ? '__proto__' : 'constructor';
          // Defined, not assigned: an own property JSON.stringify writes out, as a hostile body would carry it.
          Object.defineProperty(current, key, {
            value: r.bool() ? { polluted: 'yes', alertname: 'x' } : randomJson(r, 1),
            enumerable: true,
            configurable: true,
            writable: true,
          });
        }
        break;
      case 'duplicate':
        if (Array.isArray(current) && current.length > 0) current.push(structuredClone(r.pick(current)));
        break;
      case 'huge-string':
        set('z'.repeat(r.bool(0.3) ? r.int(260_000, 400_000) : r.int(1_000, 70_000)));
        break;
    }
  }
  return root;
}

/** Text-level damage (truncation, byte flips): what reaches the JSON parser from a broken sender. */
export function damageText(r: Rng, text: string): string {
  switch (r.int(0, 3)) {
    case 0:
      return text.slice(0, r.int(0, text.length));
    case 1: {
      const i = r.int(0, Math.max(0, text.length - 1));
      return text.slice(0, i) + String.fromCharCode(r.int(0, 255)) + text.slice(i + 1);
    }
    case 2:
      return text + r.pick(['}', ']', ',', '"', 'garbage']);
    default:
      return r.pick(['', 'null', '[]', '"text"', '42', 'true', '{', '{"a":1}{"b":2}', '\ufeff{}']);
  }
}
