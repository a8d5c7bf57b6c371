/** Bearer-token or basic auth as Alertmanager's `http_config` sends it, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors';

export interface WebhookAuth {
  readonly bearerToken?: string;
  readonly basic?: { readonly username: string; readonly password: string };
}

/** Hashing first makes both sides the same length, so the comparison leaks neither content nor length. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function authMiddleware(auth: WebhookAuth): RequestHandler {
  return (req, _res, next) => {
    if (!auth.bearerToken && !auth.basic) return next();
    const header = req.headers.authorization ?? '';
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    let ok = false;
    if (auth.bearerToken && scheme.toLowerCase() === 'bearer') ok = sameSecret(value, auth.bearerToken);
    if (!ok && auth.basic && scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      ok = sameSecret(decoded, `${auth.basic.username}:${auth.basic.password}`);
    }
    if (!ok) {
      throw new HttpError(
        401,
        'unauthorized',
        header ? 'credentials were not accepted' : 'missing Authorization header',
      );
    }
    next();
  };
}
