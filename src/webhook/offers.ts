/**
 * `GET /api/offers`: the Smart Pricing Simulator's offer endpoint with the documents' query parameters
 * (D3.6 §2.7, Figure 7; parsed by `src/pricing/offer-query.ts`) and response fields (Figure 8). Input
 * outside the documents' bounds, an unknown or a repeated parameter is a 400 naming the parameter.
 */
import { Router, type RequestHandler } from 'express';
import type { OfferRequest } from '../domain/pricing/offer';
import { PricingInputError } from '../domain/pricing/stackelberg';
import { parseOfferQuery } from '../pricing/offer-query';
import type { PricedOffer } from '../pricing/offer-service';
import { HttpError } from './errors';

export interface OfferSource {
  offer(request: OfferRequest): Promise<PricedOffer>;
}

export interface OfferRoutesDeps {
  readonly service: OfferSource;
}

/** Routes mounted at `/api/offers`. */
export function offerRoutes(deps: OfferRoutesDeps): Router {
  const router = Router();
  const get: RequestHandler = async (req, res) => {
    const parsed = parseOfferQuery(req.query);
    if (!parsed.ok) {
      throw new HttpError(
        400,
        'invalid_parameter',
        parsed.message,
        parsed.problems.length > 0 ? parsed.problems : undefined,
      );
    }
    const request = parsed.request;
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
