/**
 * Kubernetes resource quantities with the semantics of k8s.io/apimachinery/pkg/api/resource (v0.34):
 * the same grammar, the same rounding, the same canonical printing, never a float for the value.
 *
 * A quantity is `unscaled × 10^exponent` (a bigint and an integer) plus the format remembered from its
 * suffix (DecimalSI `m k M G…`, BinarySI `Ki Mi Gi…`, DecimalExponent `e3`). Parsing follows
 * `ParseQuantity` step by step:
 * - non-zero values are rounded up (away from zero) to nano precision: `0.5n` → `1n`, `3.001n` → `4n`;
 * - BinarySI values are capped at 2^63-1, and a BinarySI value between 0 and 1 becomes DecimalSI;
 * - when the input was already canonical, Kubernetes keeps the text exactly as written (`01`, `+1Ki`,
 *   `1.500` print as typed). This module does the same, so `toString()` is what the apiserver echoes.
 *
 * Printing follows `CanonicalizeBytes`: the largest exponent (multiple of 3 or power of 1024) that keeps
 * the value exact and integral; `1.5` → `1500m`, `1.5Gi` → `1536Mi`, `0.0001` → `100u`; BinarySI values
 * below 1024 or with a fraction print as DecimalSI (`0.5Ki` → `512`, `1.0001Ki` → `1024102400u`).
 *
 * Documented deviations, all on input Kubernetes mishandles: an exponent outside the int32 range
 * (`1e4294967296`) is rejected here where Go silently wraps it; huge exponents are never expanded, so
 * inputs that would make Go allocate gigabytes are handled in constant space.
 * One Kubernetes quirk is kept on purpose: a DecimalSI value of 1000E or more prints without a suffix
 * (`1000E` → `1`), exactly like the apiserver; {@link scaleQuantity} refuses to produce such a value.
 *
 * Pure: no I/O, safe inside workflows.
 */
import { InvalidFactorError, InvalidQuantityError, QuantityRangeError } from './errors';

/** The three printing formats of apimachinery's `resource.Format`. */
export const QUANTITY_FORMATS = {
  DecimalSI: 'DecimalSI',
  BinarySI: 'BinarySI',
  DecimalExponent: 'DecimalExponent',
} as const;
export type QuantityFormat = (typeof QUANTITY_FORMATS)[keyof typeof QUANTITY_FORMATS];

const { DecimalSI, BinarySI, DecimalExponent } = QUANTITY_FORMATS;

const INT64_MAX = (1n << 63n) - 1n;
/** Go's ParseInt bounds for the exponent of `1e<n>`; beyond int32 Go wraps silently, we refuse. */
const INT32_MAX = 2 ** 31 - 1;
/** Beyond this decimal magnitude, integer conversions (value, milliValue) refuse rather than expand. */
const MAX_EXPANDED_DIGITS = 100_000;

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  '': 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIX_BY_EXPONENT = new Map<number, string>(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_SUFFIX_BY_POWER = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;
const SUFFIX_CHARS = 'eEinumkKMGTP';

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}

function digitCount(v: bigint): number {
  return abs(v).toString().length;
}

/** ceil(|u| / 10^k) for u ≠ 0, without building 10^k when it dwarfs u. */
function ceilShiftAbs(u: bigint, k: number): bigint {
  const a = abs(u);
  if (k > digitCount(a)) return 1n;
  const p = pow10(k);
  const q = a / p;
  return q * p === a ? q : q + 1n;
}

/** Rounds u × 10^e to exponent `to` (≥ e means coarser), away from zero; reports exactness. */
function roundAwayFromZero(u: bigint, e: number, to: number): { unscaled: bigint; exact: boolean } {
  if (u === 0n) return { unscaled: 0n, exact: true };
  if (e >= to) return { unscaled: u * pow10(e - to), exact: true };
  const magnitude = ceilShiftAbs(u, to - e);
  const exact = to - e <= digitCount(u) && abs(u) % pow10(to - e) === 0n;
  return { unscaled: u < 0n ? -magnitude : magnitude, exact };
}

/** Compares |a|×10^ea with |b|×10^eb without expanding huge exponents. */
function compareAbs(a: bigint, ea: number, b: bigint, eb: number): -1 | 0 | 1 {
  const x = abs(a);
  const y = abs(b);
  if (x === 0n || y === 0n) return x === y ? 0 : x === 0n ? -1 : 1;
  const mx = digitCount(x) + ea;
  const my = digitCount(y) + eb;
  if (mx !== my) return mx < my ? -1 : 1;
  // Same leading magnitude: the exponents differ by at most the longer digit count.
  const xs = ea > eb ? x * pow10(ea - eb) : x;
  const ys = eb > ea ? y * pow10(eb - ea) : y;
  return xs < ys ? -1 : xs > ys ? 1 : 0;
}

function compareSigned(a: bigint, ea: number, b: bigint, eb: number): -1 | 0 | 1 {
  const sa = a === 0n ? 0 : a < 0n ? -1 : 1;
  const sb = b === 0n ? 0 : b < 0n ? -1 : 1;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  const c = compareAbs(a, ea, b, eb);
  return (sa > 0 ? c : -c) as -1 | 0 | 1;
}

/** Moves factors of ten from the digits into the exponent. */
function stripTens(u: bigint, e: number): { unscaled: bigint; exponent: number } {
  if (u === 0n) return { unscaled: 0n, exponent: 0 };
  let m = u;
  let x = e;
  while (m % 10n === 0n) {
    m /= 10n;
    x += 1;
  }
  return { unscaled: m, exponent: x };
}

/** An exact Kubernetes resource quantity; immutable. */
export class Quantity {
  /** The value is `unscaled × 10^exponent`. */
  readonly unscaled: bigint;
  readonly exponent: number;
  readonly format: QuantityFormat;
  /** The text as typed, kept when Kubernetes would keep it (see the module comment). */
  readonly #verbatim: string | undefined;
  #canonical: string | undefined;

  /** Builds a quantity from an exact value; prefer {@link parseQuantity} or {@link Quantity.fromDecimal}. */
  private constructor(unscaled: bigint, exponent: number, format: QuantityFormat, verbatim?: string) {
    this.unscaled = unscaled;
    this.exponent = exponent;
    this.format = format;
    this.#verbatim = verbatim;
  }

  /** @internal used by the parser. */
  static raw(unscaled: bigint, exponent: number, format: QuantityFormat, verbatim?: string): Quantity {
    return new Quantity(unscaled, exponent, format, verbatim);
  }

  /**
   * The quantity Kubernetes would store for the exact value `unscaled × 10^exponent` written in `format`:
   * rounded up to nano precision, BinarySI capped at 2^63-1 and turned DecimalSI below 1.
   */
  static fromDecimal(unscaled: bigint, exponent: number, format: QuantityFormat): Quantity {
    if (!Number.isSafeInteger(exponent)) throw new QuantityRangeError(`exponent ${exponent} is not an integer`);
    let u = unscaled;
    let e = exponent;
    let f = format;
    if (u !== 0n && e < -9) {
      u = roundAwayFromZero(u, e, -9).unscaled;
      e = -9;
    }
    if (f === BinarySI && compareAbs(u, e, INT64_MAX, 0) > 0) {
      u = u < 0n ? -INT64_MAX : INT64_MAX;
      e = 0;
    }
    if (f === BinarySI && u !== 0n && compareAbs(u, e, 1n, 0) < 0) f = DecimalSI;
    return new Quantity(u, e, f);
  }

  /** -1, 0 or 1. */
  sign(): -1 | 0 | 1 {
    return this.unscaled === 0n ? 0 : this.unscaled < 0n ? -1 : 1;
  }

  isZero(): boolean {
    return this.unscaled === 0n;
  }

  /** -1 if this < other, 0 if equal in value (formats aside), 1 if greater. */
  cmp(other: Quantity | string): -1 | 0 | 1 {
    const o = typeof other === 'string' ? parseQuantity(other) : other;
    return compareSigned(this.unscaled, this.exponent, o.unscaled, o.exponent);
  }

  /** Equal in value (`1Gi` equals `1024Mi` and `1073741824`). */
  equals(other: Quantity | string): boolean {
    return this.cmp(other) === 0;
  }

  /** The value rounded up (away from zero) to a whole number at 10^scale, like Go's `ScaledValue`. */
  scaledValue(scale: number): bigint {
    if (this.unscaled === 0n) return 0n;
    if (digitCount(this.unscaled) + this.exponent - scale > MAX_EXPANDED_DIGITS) {
      throw new QuantityRangeError(`quantity ${this.toString()} is too large to expand to an integer`);
    }
    return roundAwayFromZero(this.unscaled, this.exponent, scale).unscaled;
  }

  /** ceil(q) away from zero as an exact bigint (Go's `Value()`, without int64 overflow). */
  value(): bigint {
    return this.scaledValue(0);
  }

  /** ceil(q × 1000) away from zero as an exact bigint (Go's `MilliValue()`): millicores for CPU. */
  milliValue(): bigint {
    return this.scaledValue(-3);
  }

  /** A float64 close to the value (correctly rounded; ±Infinity when out of range). For ranking only. */
  asApproximateFloat64(): number {
    return Number.parseFloat(`${this.unscaled}e${this.exponent}`);
  }

  /**
   * This quantity multiplied by `factor`, rounded up (away from zero, as Kubernetes rounds) to `precision`,
   * in this quantity's format.
   */
  mul(factor: number | string, precision: ScalePrecision = 'nano'): Quantity {
    const f = parseFactor(factor);
    const e = this.exponent + f.exponent;
    let u = this.unscaled * f.unscaled;
    let x = e;
    const to = SCALE_PRECISION[precision];
    if (u !== 0n && x < to) {
      u = roundAwayFromZero(u, x, to).unscaled;
      x = to;
    }
    if (this.format === BinarySI && compareAbs(u, x, INT64_MAX, 0) > 0) {
      throw new QuantityRangeError(
        `${this.toString()} × ${String(factor)} exceeds the largest BinarySI quantity Kubernetes stores (2^63-1)`,
      );
    }
    const result = Quantity.fromDecimal(u, x, this.format);
    if (!parseQuantity(result.toString()).equals(result)) {
      throw new QuantityRangeError(
        `${this.toString()} × ${String(factor)} cannot be written as a quantity Kubernetes reads back unchanged`,
      );
    }
    return result;
  }

  /** The canonical form, exactly as Kubernetes' `Quantity.String()` prints it. */
  toString(): string {
    if (this.#verbatim !== undefined) return this.#verbatim;
    this.#canonical ??= canonicalize(this.unscaled, this.exponent, this.format);
    return this.#canonical;
  }

  toJSON(): string {
    return this.toString();
  }
}

function canonicalize(unscaled: bigint, exponent: number, format: QuantityFormat): string {
  if (unscaled === 0n) return '0';
  let fmt = format;
  let integral = 0n;
  if (fmt === BinarySI) {
    if (compareAbs(unscaled, exponent, 1024n, 0) < 0) {
      fmt = DecimalSI;
    } else {
      const rounded = roundAwayFromZero(unscaled, exponent, 0);
      if (rounded.exact) integral = rounded.unscaled;
      else fmt = DecimalSI;
    }
  }
  if (fmt === BinarySI) {
    const negative = integral < 0n;
    let v = abs(integral);
    let power = 0;
    while (v >= 1024n && v % 1024n === 0n) {
      v /= 1024n;
      power += 1;
    }
    // Go looks the suffix up in a table; a miss prints no suffix. Unreachable for capped values.
    return `${negative ? '-' : ''}${v}${BINARY_SUFFIX_BY_POWER[power] ?? ''}`;
  }
  const stripped = stripTens(unscaled, exponent);
  const shift = ((stripped.exponent % 3) + 3) % 3;
  const mantissa = stripped.unscaled * pow10(shift);
  const x = stripped.exponent - shift;
  if (fmt === DecimalExponent) return x === 0 ? `${mantissa}` : `${mantissa}e${x}`;
  // Kubernetes prints no suffix when the exponent is outside n..E (1000E prints "1"); kept faithfully.
  return `${mantissa}${DECIMAL_SUFFIX_BY_EXPONENT.get(x) ?? ''}`;
}

interface Scanned {
  readonly positive: boolean;
  readonly value: string;
  readonly num: string;
  readonly denom: string;
  readonly suffix: string;
}

/** Go's `parseQuantityString`: splits sign, integer digits, fraction digits and suffix. */
function scan(str: string): Scanned {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (end > 0) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') {
      pos++;
    }
  }
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] === '0') pos++;
    else break;
  }
  let num = '';
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: str, num: str.slice(pos), denom: '', suffix: '' };
    if (!isDigit(str.charCodeAt(i))) {
      num = str.slice(pos, i);
      pos = i;
      break;
    }
  }
  if (num.length === 0) num = '0';
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    for (let i = pos; ; i++) {
      if (i >= end) return { positive, value: str, num, denom: str.slice(pos), suffix: '' };
      if (!isDigit(str.charCodeAt(i))) {
        denom = str.slice(pos, i);
        pos = i;
        break;
      }
    }
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!SUFFIX_CHARS.includes(str.charAt(i))) {
      pos = i;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!isDigit(str.charCodeAt(i))) break;
  }
  throw new InvalidQuantityError(
    str,
    'must be a number with an optional suffix (n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>)',
  );
}

interface Suffix {
  readonly base: 2 | 10;
  readonly exponent: number;
  readonly format: QuantityFormat;
}

function interpretSuffix(text: string, suffix: string): Suffix {
  const decimal = DECIMAL_SUFFIXES[suffix];
  if (decimal !== undefined) return { base: 10, exponent: decimal, format: DecimalSI };
  const binary = BINARY_SUFFIXES[suffix];
  if (binary !== undefined) return { base: 2, exponent: binary, format: BinarySI };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?[0-9]+$/.test(suffix.slice(1))) {
    const exponent = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > INT32_MAX) {
      throw new InvalidQuantityError(text, `exponent ${suffix.slice(1)} is out of range`);
    }
    return { base: 10, exponent, format: DecimalExponent };
  }
  throw new InvalidQuantityError(
    text,
    `unknown suffix ${JSON.stringify(suffix)} (expected n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>)`,
  );
}

/** inf.Dec's SetString on the numeric part: `[+-]digits[.digits]`, at least one digit. */
function parseDecimalPart(text: string, value: string): { unscaled: bigint; exponent: number } {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(value);
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || intPart.length + fracPart.length === 0) {
    throw new InvalidQuantityError(text, 'unable to parse the numeric part');
  }
  const digits = BigInt(intPart + fracPart);
  return { unscaled: m[1] === '-' ? -digits : digits, exponent: -fracPart.length };
}

/**
 * Parses a Kubernetes quantity (`500m`, `1.5Gi`, `2e3`, `+.5`, ...) exactly as the apiserver does.
 * Throws {@link InvalidQuantityError} naming the text and the reason when it is not a quantity.
 */
export function parseQuantity(text: string): Quantity {
  if (typeof text !== 'string') throw new InvalidQuantityError(String(text), 'a quantity must be a string');
  if (text.length === 0) throw new InvalidQuantityError(text, 'empty string');
  if (text === '0') return Quantity.raw(0n, 0, DecimalSI, '0');

  const { positive, value, num, denom, suffix } = scan(text);
  const { base, exponent, format } = interpretSuffix(text, suffix);

  // Fast path of ParseQuantity: small exact values; it also decides when the typed text is kept.
  let precision: number;
  let scale = 0;
  let mantissa = 1n;
  if (format === BinarySI) {
    if (exponent >= 0 && denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  }
  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= -9) {
      const shifted = num + denom;
      const v = BigInt(shifted);
      const product = v * mantissa;
      if (product <= INT64_MAX) {
        const result = positive ? product : -product;
        const keep =
          format === BinarySI
            ? exponent % 10 === 0 && (v & 7n) !== 0n
            : scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
        return Quantity.raw(result, scale, format, keep ? text : undefined);
      }
    }
  }

  // Slow path: arbitrary precision, then Kubernetes' rounding and caps.
  const amount = parseDecimalPart(text, value);
  let u = amount.unscaled;
  let e = amount.exponent;
  if (base === 10) e += exponent;
  else u *= 1n << BigInt(exponent);
  return Quantity.fromDecimal(u, e, format);
}

/** Precision a scaled quantity is rounded up to: Kubernetes' own (nano), whole milli-units, whole units. */
export const SCALE_PRECISION = { nano: -9, milli: -3, unit: 0 } as const;
export type ScalePrecision = keyof typeof SCALE_PRECISION;

/**
 * The precision Talon rounds a resource to after scaling: CPU to whole millicores (the kubelet's unit),
 * memory, storage and huge pages to whole bytes, anything else to Kubernetes' nano precision.
 */
export function precisionForResource(resource: string): ScalePrecision {
  if (resource === 'cpu') return 'milli';
  if (resource === 'memory' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-')) return 'unit';
  return 'nano';
}

export interface ScaleOptions {
  /** Rounds to this precision; defaults to the resource's precision, else `nano`. */
  readonly precision?: ScalePrecision;
  /** The resource the quantity belongs to (`cpu`, `memory`, ...), which picks the precision. */
  readonly resource?: string;
}

/**
 * Multiplies a quantity by a factor and returns the canonical text Kubernetes would store, in the input's
 * format. The factor is read as the shortest decimal that prints as the number (1.1 is exactly 11/10,
 * never 1.100000000000000088…). The exact product is rounded up, away from zero, the way Kubernetes rounds:
 * `scaleQuantity('333m', 1.5, { resource: 'cpu' })` → `500m` (499.5m up to whole millicores),
 * `scaleQuantity('128Mi', 0.7, { resource: 'memory' })` → `93952410` (whole bytes),
 * `scaleQuantity('1Gi', 1.5)` → `1536Mi`. Throws {@link InvalidQuantityError} for bad text,
 * {@link InvalidFactorError} for a factor that is not finite and positive, {@link QuantityRangeError}
 * when the result cannot be stored faithfully.
 */
export function scaleQuantity(text: string | Quantity, factor: number | string, options: ScaleOptions = {}): string {
  const q = typeof text === 'string' ? parseQuantity(text) : text;
  const precision = options.precision ?? (options.resource ? precisionForResource(options.resource) : 'nano');
  return q.mul(factor, precision).toString();
}

/** Reads a factor as an exact decimal; it must be finite and greater than zero. */
export function parseFactor(factor: number | string): { unscaled: bigint; exponent: number } {
  let text: string;
  if (typeof factor === 'number') {
    if (!Number.isFinite(factor)) throw new InvalidFactorError(factor, 'must be a finite number');
    text = String(factor);
  } else if (typeof factor === 'string') {
    text = factor.trim();
  } else {
    throw new InvalidFactorError(factor, 'must be a number or a decimal string');
  }
  const m = /^\+?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]{1,6}))?$/.exec(text);
  const intPart = m?.[1] ?? '';
  const fracPart = m?.[2] ?? '';
  if (!m || intPart.length + fracPart.length === 0) {
    throw new InvalidFactorError(factor, 'must be a positive decimal number');
  }
  const unscaled = BigInt(intPart + fracPart);
  if (unscaled === 0n) throw new InvalidFactorError(factor, 'must be greater than zero');
  return { unscaled, exponent: Number(m[3] ?? '0') - fracPart.length };
}
