/**
 * `GET /api/offers`: the Smart Pricing Simulator's offer endpoint with the documents' query parameters
 * (D3.6 §2.7, Figure 7) and response fields (Figure 8). Either `bundle_name`, or `cpu_time_hours` +
 * `vcpus` + `memory_GBs`; `elasticity_cpu`, `elasticity_ram` (default 0.5), `apply_dynamic_discount`
 * (default false); Talon adds `start` (ISO time the resources are first used; default now). Input outside
 * the documents' bounds is a 400 naming the parameter; an unknown parameter too, so a typo is not priced as
 * a default.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { BUNDLES, BUNDLE_IDS, findBundle } from '../domain/pricing/bundles';
import { OFFER_LIMITS, type OfferRequest } from '../domain/pricing/offer';
import { PricingInputError } from '../domain/pricing/stackelberg';
import type { PricedOffer } from '../pricing/offer-service';
import { HttpError } from './errors';
import { describeIssues } from './payloads';

export interface OfferSource {
  offer(request: OfferRequest): Promise<PricedOffer>;
}

export interface OfferRoutesDeps {
  readonly service: OfferSource;
}

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

/** The offer request a valid query stands for; a 400 HttpError otherwise. */
export function parseOfferQuery(query: Record<string, unknown>): OfferRequest {
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) throw new HttpError(400, 'invalid_parameter', `${k} is given more than once`);
  }
  const parsed = offerQuerySchema.safeParse(query);
  if (!parsed.success) {
    throw new HttpError(400, 'invalid_parameter', 'the offer request is not valid', describeIssues(parsed.error));
  }
  const q = parsed.data;
  const options = {
    ...(q.elasticity_cpu !== undefined ? { elasticityCpu: q.elasticity_cpu } : {}),
    ...(q.elasticity_ram !== undefined ? { elasticityRam: q.elasticity_ram } : {}),
    ...(q.apply_dynamic_discount !== undefined ? { applyDynamicDiscount: q.apply_dynamic_discount } : {}),
    ...(q.start !== undefined ? { startsAt: Date.parse(q.start) } : {}),
  };
  if (q.bundle_name !== undefined) return { kind: 'bundle', bundle: findBundle(q.bundle_name)!.id, ...options };
  return { kind: 'payg', cpuTimeHours: q.cpu_time_hours!, vcpus: q.vcpus!, memoryGBs: q.memory_GBs!, ...options };
}

/** Routes mounted at `/api/offers`. */
export function offerRoutes(deps: OfferRoutesDeps): Router {
  const router = Router();
  const get: RequestHandler = async (req, res) => {
    const request = parseOfferQuery(req.query);
    try {
      const { body } = await deps.service.offer(request);
      res.status(200).json(body);
    } catch (err) {
      if (err instanceof PricingInputError) throw new HttpError(400, 'invalid_parameter', err.message);
      throw err;
    }
  };
  router.get('/', get);
  return router;
}
