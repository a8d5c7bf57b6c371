/**
 * The offer request as the documents' API takes it (D3.6 §2.7, Figure 7): either `bundle_name`, or
 * `cpu_time_hours` + `vcpus` + `memory_GBs` within their bounds; `elasticity_cpu`, `elasticity_ram` (default
 * 0.5), `apply_dynamic_discount` (default false); Talon adds `start` (ISO time the resources are first used,
 * default now). Unknown and repeated parameters are refused, so a typo is not priced as a default. Shared by
 * the REST route and the CLI, which turn the problems into a 400 or an exit 1.
 */
import { z } from 'zod';
import { BUNDLES, BUNDLE_IDS, findBundle } from '../domain/pricing/bundles';
import { OFFER_LIMITS, type OfferRequest } from '../domain/pricing/offer';

const bundleNames = BUNDLE_IDS.map((id) => BUNDLES[id].name);

const number = (name: string, limits: { min: number; max: number }, integer = false) => {
  let schema = z.coerce.number({ error: `${name} must be a number` });
  if (integer) schema = schema.int(`${name} must be an integer`);
  return schema
    .min(limits.min, `${name} must be at least ${limits.min}`)
    .max(limits.max, `${name} must be at most ${limits.max}`);
};

const bool = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0'], { error: 'apply_dynamic_discount must be true or false' }))
  .transform((v) => v === 'true' || v === '1');

/** The documents' query parameters; a repeated parameter is refused rather than guessed. */
export const offerQuerySchema = z
  .strictObject({
    bundle_name: z.string().min(1).max(100).optional(),
    cpu_time_hours: number('cpu_time_hours', OFFER_LIMITS.cpuTimeHours).optional(),
    vcpus: number('vcpus', OFFER_LIMITS.vcpus, true).optional(),
    memory_GBs: number('memory_GBs', OFFER_LIMITS.memoryGBs, true).optional(),
    elasticity_cpu: number('elasticity_cpu', OFFER_LIMITS.elasticity).optional(),
    elasticity_ram: number('elasticity_ram', OFFER_LIMITS.elasticity).optional(),
    apply_dynamic_discount: bool.optional(),
    start: z.iso.datetime({ offset: true, error: 'start must be an ISO 8601 time' }).optional(),
  })
  .superRefine((q, ctx) => {
    const payg = ['cpu_time_hours', 'vcpus', 'memory_GBs'] as const;
    const given = payg.filter((k) => q[k] !== undefined);
    if (q.bundle_name !== undefined) {
      if (given.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: [given[0]!],
          message: `give either bundle_name or ${payg.join(' + ')}, not both`,
        });
      }
      if (!findBundle(q.bundle_name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['bundle_name'],
          message: `unknown bundle; one of ${bundleNames.join(', ')} (or ${BUNDLE_IDS.join(', ')})`,
        });
      }
    } else {
      for (const k of payg) {
        if (q[k] === undefined) {
          ctx.addIssue({ code: 'custom', path: [k], message: `${k} is required when no bundle_name is given` });
        }
      }
    }
  });

export type ParsedOfferQuery =
  | { readonly ok: true; readonly request: OfferRequest }
  | { readonly ok: false; readonly message: string; readonly problems: string[] };

/** The offer request a query (strings, as in a URL) stands for, or what is wrong with it. */
export function parseOfferQuery(query: Readonly<Record<string, unknown>>): ParsedOfferQuery {
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) return { ok: false, message: `${k} is given more than once`, problems: [] };
  }
  const parsed = offerQuerySchema.safeParse(query);
  if (!parsed.success) {
    return {
      ok: false,
      message: 'the offer request is not valid',
      problems: parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(query)'}: ${i.message}`),
    };
  }
  const q = parsed.data;
  const options = {
    ...(q.elasticity_cpu !== undefined ? { elasticityCpu: q.elasticity_cpu } : {}),
    ...(q.elasticity_ram !== undefined ? { elasticityRam: q.elasticity_ram } : {}),
    ...(q.apply_dynamic_discount !== undefined ? { applyDynamicDiscount: q.apply_dynamic_discount } : {}),
    ...(q.start !== undefined ? { startsAt: Date.parse(q.start) } : {}),
  };
  if (q.bundle_name !== undefined) {
    return { ok: true, request: { kind: 'bundle', bundle: findBundle(q.bundle_name)!.id, ...options } };
  }
  return {
    ok: true,
    request: { kind: 'payg', cpuTimeHours: q.cpu_time_hours!, vcpus: q.vcpus!, memoryGBs: q.memory_GBs!, ...options },
  };
}
