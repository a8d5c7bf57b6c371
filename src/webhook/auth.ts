/**
 * Bearer-token or basic auth as Alertmanager's `http_config` sends it, compared in constant time. Without a
 * secret the webhook does not start, unless the operator said `insecure` explicitly (TALON_WEBHOOK_INSECURE):
 * an open endpoint that changes the cluster on every POST must be a decision, never a forgotten variable.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors';

export interface WebhookAuth {
  readonly bearerToken?: string;
  readonly basic?: { readonly username: string; readonly password: string };
  /**
   * Serve without authentication when no secret is configured (TALON_WEBHOOK_INSECURE=true). A configured
   * secret is still required when this is set.
   */
  readonly insecure?: boolean;
}

/** The webhook was asked to run without any authentication and without `insecure`. */
export class WebhookAuthConfigError extends Error {
  override readonly name = 'WebhookAuthConfigError';
}

/** The line printed (and logged) when the webhook runs without authentication. */
export const INSECURE_WARNING =
  'WARNING: the Talon webhook accepts unauthenticated requests (TALON_WEBHOOK_INSECURE=true and no token or basic ' +
  'auth configured): anyone who can reach it can make Talon change workloads. Set TALON_WEBHOOK_TOKEN(_FILE) or ' +
  'TALON_WEBHOOK_BASIC_USER/PASSWORD.';

/** Whether this configuration serves requests without checking credentials. */
export function isUnauthenticated(auth: WebhookAuth): boolean {
  return !auth.bearerToken && !auth.basic;
}

/** Refuses a configuration without a secret unless it says `insecure`; call before listening. */
export function checkAuthConfig(auth: WebhookAuth): void {
  if (isUnauthenticated(auth) && auth.insecure !== true) {
    throw new WebhookAuthConfigError(
      'the webhook refuses to start without authentication: set TALON_WEBHOOK_TOKEN (or TALON_WEBHOOK_TOKEN_FILE, or ' +
        'TALON_WEBHOOK_BASIC_USER and TALON_WEBHOOK_BASIC_PASSWORD), or TALON_WEBHOOK_INSECURE=true to run it open',
    );
  }
}

const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Hashing first makes both sides the same length, so the comparison leaks neither content nor length. */
function matches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

export function authMiddleware(auth: WebhookAuth): RequestHandler {
  checkAuthConfig(auth);
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
