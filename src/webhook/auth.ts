/** Bearer-token or basic auth as Alertmanager's `http_config` sends it, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors';

export interface WebhookAuth {
  readonly bearerToken?: string;
  readonly basic?: { readonly username: string; readonly password: string };
}

const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Hashing first makes both sides the same length, so the comparison leaks neither content nor length. */
function matches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

export function authMiddleware(auth: WebhookAuth): RequestHandler {
  // The configured secrets are hashed once, not on every request.
  const bearer = auth.bearerToken ? digest(auth.bearerToken) : undefined;
  const basic = auth.basic ? digest(`${auth.basic.username}:${auth.basic.password}`) : undefined;
  return (req, _res, next) => {
    if (!bearer && !basic) return next();
    const header = req.headers.authorization ?? '';
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    let ok = false;
    if (bearer && scheme.toLowerCase() === 'bearer') ok = matches(value, bearer);
    if (!ok && basic && scheme.toLowerCase() === 'basic') {
      ok = matches(Buffer.from(value, 'base64').toString('utf8'), basic);
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
