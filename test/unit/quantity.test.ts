/**
 * Quantity maths against Kubernetes itself: every vector in test/fixtures/quantity-vectors.json was produced
 * by apimachinery v0.34.4 (test/fixtures/quantity-oracle), plus readable cases for the rules that matter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidFactorError, InvalidQuantityError, QuantityRangeError } from '../../src/domain/errors';
import {
  parseFactor,
  parseQuantity,
  precisionForResource,
  Quantity,
  QUANTITY_FORMATS,
  scaleQuantity,
  type QuantityFormat,
  type ScalePrecision,
} from '../../src/domain/quantity';

interface ParseVector {
  in: string;
  ok: boolean;
  str?: string;
  format?: QuantityFormat;
  unscaled?: string;
  scale?: number;
  reparsed?: string;
}
interface ScaleVector {
  in: string;
  factor: string;
  exp: number;
  ok: boolean;
  out?: string;
}
const vectors = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'quantity-vectors.json'), 'utf8')) as {
  parse: ParseVector[];
  scale: ScaleVector[];
};
const PRECISION_BY_EXP: Record<number, ScalePrecision> = { [-9]: 'nano', [-3]: 'milli', 0: 'unit' };

function exactValue(q: Quantity): Quantity {
  return Quantity.fromDecimal(q.unscaled, q.exponent, q.format);
}

describe('parseQuantity against apimachinery v0.34.4', () => {
  it('has a meaningful number of vectors, valid and invalid', () => {
    expect(vectors.parse.length).toBeGreaterThanOrEqual(2000);
    expect(vectors.parse.filter((v) => !v.ok).length).toBeGreaterThan(100);
    expect(vectors.scale.length).toBeGreaterThan(2000);
  });

  it('accepts and rejects exactly the strings Kubernetes does, with the same value, format and text', () => {
    const mismatches: string[] = [];
    for (const v of vectors.parse) {
      let q: Quantity | undefined;
      try {
        q = parseQuantity(v.in);
      } catch (err) {
        if (!(err instanceof InvalidQuantityError)) throw err;
        if (v.ok) mismatches.push(`${JSON.stringify(v.in)}: rejected (${err.message}) but Kubernetes accepts it`);
        continue;
      }
      if (!v.ok) {
        mismatches.push(`${JSON.stringify(v.in)}: accepted as ${q.toString()} but Kubernetes rejects it`);
        continue;
      }
      if (q.toString() !== v.str) mismatches.push(`${JSON.stringify(v.in)}: printed ${q.toString()}, want ${v.str}`);
      if (q.format !== v.format) mismatches.push(`${JSON.stringify(v.in)}: format ${q.format}, want ${v.format}`);
      const expected = Quantity.fromDecimal(BigInt(v.unscaled ?? '0'), -(v.scale ?? 0), QUANTITY_FORMATS.DecimalSI);
      if (!q.equals(expected)) mismatches.push(`${JSON.stringify(v.in)}: value ${q.unscaled}e${q.exponent}`);
      if (v.reparsed !== undefined && parseQuantity(q.toString()).toString() !== v.reparsed) {
        mismatches.push(`${JSON.stringify(v.in)}: reparsed differs`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('scales exactly like inf.Dec arithmetic rounded away from zero, for numbers and decimal strings', () => {
    const mismatches: string[] = [];
    for (const v of vectors.scale) {
      const precision = PRECISION_BY_EXP[v.exp];
      if (!precision) throw new Error(`bad vector exponent ${v.exp}`);
      for (const factor of [v.factor, Number(v.factor)]) {
        let out: string | undefined;
        try {
          out = scaleQuantity(v.in, factor, { precision });
        } catch (err) {
          if (!(err instanceof QuantityRangeError || err instanceof InvalidQuantityError)) throw err;
        }
        if (out !== (v.ok ? v.out : undefined)) {
          mismatches.push(`${v.in} × ${String(factor)} @${precision}: got ${out}, want ${v.ok ? v.out : 'an error'}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('parseQuantity: the rules, readable', () => {
  it.each([
    ['1.5', '1500m'],
    ['1.5Gi', '1536Mi'],
    ['1024Mi', '1Gi'],
    ['1000M', '1G'],
    ['1000m', '1'],
    ['0.5', '500m'],
    ['2048Mi', '2Gi'],
    ['300Mi', '300Mi'],
    ['307200Ki', '300Mi'],
    ['100.035k', '100.035k'],
    ['100.0350k', '100035'],
    ['1e3', '1e3'],
    ['1.2e3', '1200'],
    ['1E-3', '1E-3'],
    ['10E-4', '1e-3'],
    ['1000e-12', '1e-9'],
    ['1E', '1E'],
    ['12E', '12E'],
  ])('%s prints as %s', (text, canonical) => {
    expect(parseQuantity(text).toString()).toBe(canonical);
  });

  it('rounds tiny non-zero values up to nano precision, never down to zero', () => {
    expect(parseQuantity('0.0001').toString()).toBe('100u');
    expect(parseQuantity('0.1m').toString()).toBe('100u');
    expect(parseQuantity('0.0000000001').toString()).toBe('1n');
    expect(parseQuantity('0.5n').toString()).toBe('1n');
    expect(parseQuantity('3.001n').toString()).toBe('4n');
    expect(parseQuantity('-3.001n').toString()).toBe('-4n');
    expect(parseQuantity('0.00000012345').toString()).toBe('124n');
    expect(parseQuantity('1e-20').toString()).toBe('1e-9');
    expect(parseQuantity('0.000000000001Ki').toString()).toBe('2n');
    expect(parseQuantity('0.000000000001Ki').format).toBe('DecimalSI');
  });

  it('keeps binary and decimal suffixes apart and never mixes them when printing', () => {
    expect(parseQuantity('1Ki').value()).toBe(1024n);
    expect(parseQuantity('1k').value()).toBe(1000n);
    expect(parseQuantity('1Mi').equals('1048576')).toBe(true);
    expect(parseQuantity('1M').equals('1000k')).toBe(true);
    expect(parseQuantity('1Gi').equals('1G')).toBe(false);
    expect(parseQuantity('1000Ki').toString()).toBe('1000Ki');
    expect(parseQuantity('1024k').toString()).toBe('1024k');
    // BinarySI below 1024 or with a fraction prints as DecimalSI but remembers its format
    expect(parseQuantity('0.5Ki').toString()).toBe('512');
    expect(parseQuantity('0.5Ki').format).toBe('BinarySI');
    expect(parseQuantity('1.0001Ki').toString()).toBe('1024102400u');
    expect(parseQuantity('100.035Ki').toString()).toBe('102435840m');
  });

  it('keeps the text as typed where Kubernetes does (the apiserver echoes it)', () => {
    expect(parseQuantity('1.500').toString()).toBe('1.500');
    expect(parseQuantity('01').toString()).toBe('01');
    expect(parseQuantity('+1Ki').toString()).toBe('+1Ki');
    expect(parseQuantity('1.G').toString()).toBe('1.G');
    expect(parseQuantity('1.50').toString()).toBe('1500m');
    expect(parseQuantity('8Ki').toString()).toBe('8Ki');
  });

  it('handles huge values: BinarySI capped at 2^63-1, decimal values exact and unbounded', () => {
    expect(parseQuantity('8Ei').toString()).toBe('9223372036854775807');
    expect(parseQuantity('-99999999999999999999Ei').toString()).toBe('-9223372036854775807');
    expect(parseQuantity('7.99Ei').toString()).toBe('9211842821808707338240m');
    expect(parseQuantity('123456789012345678901234567890').toString()).toBe('123456789012345678901234567890');
    expect(parseQuantity('1e1000').toString()).toBe('10e999');
    expect(parseQuantity('1e2147483647').toString()).toBe('10e2147483646');
    expect(parseQuantity('9223372036854775808').value()).toBe(9223372036854775808n);
  });

  it('survives inputs that make Kubernetes itself allocate without bound', () => {
    const started = Date.now();
    expect(parseQuantity('1e-2147483647').toString()).toBe('1e-9');
    expect(parseQuantity('1234567890123456789e2000000000').cmp('1e2000000018')).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(() => parseQuantity('1e2000000000').value()).toThrow(QuantityRangeError);
  });

  it('keeps Kubernetes quirk: DecimalSI of 1000E and more prints without a suffix', () => {
    expect(parseQuantity('1000E').toString()).toBe('1');
    expect(parseQuantity('1000E').value()).toBe(10n ** 21n);
  });

  it.each([
    ['', 'empty string'],
    [' 1', 'must be a number'],
    ['1 ', 'must be a number'],
    ['1K', 'unknown suffix "K"'],
    ['1KB', 'must be a number'],
    ['1Ki3', 'unknown suffix "Ki3"'],
    ['1mi', 'unknown suffix "mi"'],
    ['1.1.M', 'must be a number'],
    ['1+1.0M', 'must be a number'],
    ['-3.01e-', 'unknown suffix'],
    ['1e', 'unknown suffix "e"'],
    ['aoeu', 'must be a number'],
    ['NaN', 'must be a number'],
    ['0x10', 'must be a number'],
    ['.Ei', 'numeric part'],
    ['1e4294967296', 'out of range'],
  ])('rejects %j with a clear error (%s)', (text, reason) => {
    expect(() => parseQuantity(text)).toThrow(InvalidQuantityError);
    expect(() => parseQuantity(text)).toThrow(reason);
    try {
      parseQuantity(text);
    } catch (err) {
      expect((err as InvalidQuantityError).text).toBe(text);
      expect((err as InvalidQuantityError).name).toBe('InvalidQuantityError');
    }
  });

  it('rejects non-strings', () => {
    expect(() => parseQuantity(5 as unknown as string)).toThrow('must be a string');
  });

  it('accepts signs, bare dots and leading zeros like Kubernetes', () => {
    expect(parseQuantity('-').isZero()).toBe(true);
    expect(parseQuantity('.').isZero()).toBe(true);
    expect(parseQuantity('+.5').toString()).toBe('500m');
    expect(parseQuantity('-.5').toString()).toBe('-500m');
    expect(parseQuantity('007').value()).toBe(7n);
    expect(parseQuantity('-0').toString()).toBe('0');
  });

  it('compares, converts and rounds values like Go (ceil away from zero)', () => {
    const q = parseQuantity('1.5');
    expect(q.milliValue()).toBe(1500n);
    expect(q.value()).toBe(2n);
    expect(parseQuantity('-1.5').value()).toBe(-2n);
    expect(parseQuantity('1n').milliValue()).toBe(1n);
    expect(parseQuantity('250m').asApproximateFloat64()).toBe(0.25);
    expect(parseQuantity('1e400').asApproximateFloat64()).toBe(Infinity);
    expect(parseQuantity('100m').cmp('50m')).toBe(1);
    expect(parseQuantity('50m').cmp('100m')).toBe(-1);
    expect(parseQuantity('10000T').cmp('100Gi')).toBe(1);
    expect(parseQuantity('-1').cmp('1n')).toBe(-1);
    expect(parseQuantity('-2').cmp('-1')).toBe(-1);
    expect(parseQuantity('0').cmp('-0')).toBe(0);
    expect(q.sign()).toBe(1);
    expect(parseQuantity('-1m').sign()).toBe(-1);
    expect(JSON.stringify({ cpu: parseQuantity('0.25') })).toBe('{"cpu":"250m"}');
  });
});

describe('scaleQuantity', () => {
  it.each([
    ['500m', 1.5, 'cpu', '750m'],
    ['1', 1.5, 'cpu', '1500m'],
    ['2', 1.5, 'cpu', '3'],
    ['100m', 0.7, 'cpu', '70m'],
    ['333m', 1.5, 'cpu', '500m'],
    ['333m', 0.7, 'cpu', '234m'],
    ['1m', 0.3, 'cpu', '1m'],
    ['250m', 1.1, 'cpu', '275m'],
    ['1Gi', 1.5, 'memory', '1536Mi'],
    ['100Mi', 1.1, 'memory', '110Mi'],
    ['3Gi', 1.25, 'memory', '3840Mi'],
    ['1Mi', 1.001, 'memory', '1049625'],
    ['128Mi', 0.7, 'memory', '93952410'],
    ['512Mi', 0.5, 'memory', '256Mi'],
    ['1G', 1.5, 'memory', '1500M'],
    ['1e3', 1.5, 'memory', '1500'],
    ['1e3', 3, 'memory', '3e3'],
  ])('%s × %d (%s) = %s', (text, factor, resource, expected) => {
    expect(scaleQuantity(text, factor, { resource })).toBe(expected);
  });

  it('reads the factor as the decimal it prints as, not as a binary float', () => {
    // 0.7 is 0.6999999999999999555910790149937 as a double; Kubernetes-exact maths uses 7/10.
    expect(scaleQuantity('100m', 0.7, { precision: 'nano' })).toBe('70m');
    expect(scaleQuantity('3', 1.1)).toBe('3300m');
    expect(scaleQuantity('1', 0.1 + 0.2)).toBe('300000001n');
    expect(scaleQuantity('1', '1.000000001')).toBe('1000000001n');
    expect(scaleQuantity('1', 1e-7)).toBe('100n');
    expect(scaleQuantity('1', 1.5e21)).toBe('1500E');
  });

  it('defaults to Kubernetes precision and accepts a Quantity', () => {
    expect(scaleQuantity('1', 0.0000000001)).toBe('1n');
    expect(scaleQuantity(parseQuantity('1Gi'), 2)).toBe('2Gi');
    expect(parseQuantity('1Gi').mul(0.5, 'unit').toString()).toBe('512Mi');
  });

  it('rounds away from zero, so scaling down never reaches zero', () => {
    expect(scaleQuantity('1m', 0.3, { precision: 'milli' })).toBe('1m');
    expect(scaleQuantity('1', 0.3, { precision: 'unit' })).toBe('1');
    expect(scaleQuantity('-1', 0.3, { precision: 'unit' })).toBe('-1');
  });

  it('refuses results Kubernetes cannot store faithfully', () => {
    expect(() => scaleQuantity('8Ei', 1.5)).toThrow(QuantityRangeError);
    expect(() => scaleQuantity('4Ei', 2)).toThrow('2^63-1');
    expect(() => scaleQuantity('1E', 1000)).toThrow('cannot be written');
  });

  it.each([[0], [-1.5], [NaN], [Infinity], ['abc'], [''], ['1.2.3'], ['-2'], [{}]])(
    'rejects factor %p with InvalidFactorError',
    (factor) => {
      expect(() => scaleQuantity('1', factor as number)).toThrow(InvalidFactorError);
    },
  );

  it('maps resources to their precision', () => {
    expect(precisionForResource('cpu')).toBe('milli');
    expect(precisionForResource('memory')).toBe('unit');
    expect(precisionForResource('ephemeral-storage')).toBe('unit');
    expect(precisionForResource('hugepages-2Mi')).toBe('unit');
    expect(precisionForResource('nvidia.com/gpu')).toBe('nano');
  });

  it('parses factors exactly', () => {
    expect(parseFactor(1.5)).toEqual({ unscaled: 15n, exponent: -1 });
    expect(parseFactor('2e3')).toEqual({ unscaled: 2n, exponent: 3 });
    expect(parseFactor(' .25 ')).toEqual({ unscaled: 25n, exponent: -2 });
    expect(exactValue(parseQuantity('1')).equals('1')).toBe(true);
  });
});
