/**
 * Who this process is to Temporal: what approvals record and what the policy file's `approvers` are checked
 * against. In order: TALON_IDENTITY (an operator's explicit name, e.g. set by a login wrapper), the subject of
 * the mTLS client certificate the process connects with (`mtls:CN=alice,O=sre` — the identity Temporal's TLS
 * handshake proved the caller holds the key for), else `user@host` as the SDK would say.
 *
 * Temporal records the identity a client states; it does not authenticate it. With mTLS the certificate is what
 * the server verified, and the CLI derives the identity from it, so a user cannot claim another's certificate
 * subject without its key. Without mTLS the identity is what the caller says it is: the allow-list then bounds
 * who may approve only as far as access to Temporal is controlled (see docs/POLICY.md).
 */
import { X509Certificate } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { TalonConfig } from './talon-config';

/** `mtls:<subject>` of a PEM certificate, subject fields joined by commas in their order. */
export function certificateIdentity(pem: Buffer | string): string {
  const subject = new X509Certificate(pem).subject; // "CN=alice\nO=sre"
  return `mtls:${subject.split('\n').filter(Boolean).join(',')}`;
}

function userAtHost(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers running as an arbitrary uid)
  }
  return `${user}@${hostname()}`;
}

export function resolveIdentity(config: Pick<TalonConfig, 'identity' | 'temporal'>): string {
  if (config.identity) return config.identity;
  const tls = config.temporal.tls;
  const cert = typeof tls === 'object' ? tls.clientCertPair?.crt : undefined;
  if (cert) {
    try {
      return certificateIdentity(cert);
    } catch {
      // an unreadable certificate fails the connection itself, with a better message
    }
  }
  return userAtHost();
}
