/**
 * The operator's command-line pieces that need no server: `talon policy check|show` over files, `--since`,
 * the audit table, the brake report, and who a client is to Temporal (TALON_IDENTITY, the mTLS certificate's
 * subject, user@host).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyCheckAction, policyShowAction, formatBrake } from '../../src/cli/operator-commands';
import { formatAudit, parseSince } from '../../src/cli/remediation/audit';
import { CliError } from '../../src/cli/errors';
import { certificateIdentity, resolveIdentity } from '../../src/config/identity';
import { DEFAULT_STORM_BRAKE } from '../../src/domain/autonomy';

/** A self-signed certificate for CN=alice, O=sre (test only; no key is kept). */
const CERT = `-----BEGIN CERTIFICATE-----
MIIBkjCCATmgAwIBAgIUeIxx8zXcWmcGbdvLNR10gcU3xKMwCgYIKoZIzj0EAwIw
HjEOMAwGA1UEAwwFYWxpY2UxDDAKBgNVBAoMA3NyZTAgFw0yNjEyMDIxNzIxMDla
GA8yMTI2MTEwODE3MjEwOVowHjEOMAwGA1UEAwwFYWxpY2UxDDAKBgNVBAoMA3Ny
ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEjGaP/dKTpimbAp7bmkipe9UEOK
2kbA2e7Xs5ut07kmqtiQBJb8baJ8iG6o14mPN5HaRvnCFI/9xLkxZqQ+MECjUzBR
MB0GA1UdDgQWBBRmNT6eVRoRUYE4aMbkeDobvDVaxjAfBgNVHSMEGDAWgBRmNT6e
VRoRUYE4aMbkeDobvDVaxjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA
MEQCIC/DAxZ24Q9Jjs4wai2VR4H2YDS4T7V+0i5A+MDz7YAEAiA+26vYC7oNdycV
ZPXkxCtBjq3ik+Ia4+kTwz+A4ANbAQ==
-----END CERTIFICATE-----
`;

const example = join(__dirname, '..', '..', 'deploy', 'policy', 'talon-policy.example.yaml');

describe('talon policy', () => {
  it('check describes a valid file', async () => {
    const out: string[] = [];
    const policy = await policyCheckAction(example, {}, { out: (t) => out.push(t) });
    expect(policy.overrides).toHaveLength(4);
    const text = out.join('\n');
    expect(text).toMatch(/valid\nversion 2026-05-17\.1@[0-9a-f]{12}/);
    expect(text).toContain('1. payments-needs-approval: when {"namespaces":["payments"]}');
    expect(text).toContain('write budgets: 10 writes per 600s per namespace; 50 writes per 600s cluster-wide');
    expect(text).toContain(
      "storm brake: engages on more than 50 alert remediations, more than 30% of a namespace's pods",
    );
  });

  it('check refuses an invalid file as a CLI error naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'talon-cli-policy-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      "apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\ndefaults: { autonomy: sometimes }\n",
    );
    await expect(policyCheckAction(bad, {}, { out: () => undefined })).rejects.toThrow(CliError);
    await expect(policyCheckAction(bad, {}, { out: () => undefined })).rejects.toThrow(/defaults\.autonomy/);
  });

  it('show resolves the policy for one alert as the worker does', async () => {
    const out: string[] = [];
    const resolved = await policyShowAction(
      { file: example, alert: 'High memory usage', namespace: 'payments', label: ['team=blue'] },
      { out: (t) => out.push(t) },
    );
    expect(resolved.matched).toEqual(['payments-needs-approval', 'grafana-memory-alerts']);
    expect(out.join('\n')).toContain('autonomy approve; allowed: memory_scale_up');
    await expect(
      policyShowAction({ file: example, alert: 'A', label: ['novalue'] }, { out: () => undefined }),
    ).rejects.toThrow(/--label takes key=value/);
  });
});

describe('talon audit', () => {
  it('--since takes a duration or an ISO time', () => {
    const now = Date.parse('2026-05-17T12:00:00Z');
    expect(parseSince('90m', now).toISOString()).toBe('2026-05-17T10:30:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-05-10T12:00:00.000Z');
    expect(parseSince('2026-05-17T08:00:00Z', now).toISOString()).toBe('2026-05-17T08:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(CliError);
  });

  it('prints who, what, why and the policy version, oldest first', () => {
    const text = formatAudit(
      [
        {
          at: '2026-05-17T10:00:00.000Z',
          decision: 'approved',
          who: 'mtls:CN=alice,O=sre',
          why: 'cpu_scale_up ×1.5 on shop/web-1 approved by alice',
          policy: 'cpu_scale_up',
          policyVersion: 'v2@abc',
          workflowId: 'remediate/A/shop/web-1/f',
          target: 'shop/web-1',
        },
      ],
      new Date('2026-05-17T09:00:00Z'),
    );
    expect(text.split('\n')[0]).toMatch(/^AT\s+WHO\s+DECISION\s+POLICY\s+TARGET\s+POLICY VERSION\s+WHY\s+WORKFLOW ID$/);
    expect(text).toContain('2026-05-17 10:00:00Z  mtls:CN=alice,O=sre  approved');
    expect(formatAudit([], new Date('2026-05-17T09:00:00Z'))).toBe('no decisions since 2026-05-17T09:00:00.000Z');
  });
});

describe('talon brake status', () => {
  it('says per scope whether it is engaged, with the counts', () => {
    const state = {
      engaged: true,
      trips: [
        {
          scope: 'namespace/shop' as const,
          reason: '30 of 40 pods of namespace shop under remediation (75%), more than 50%',
        },
      ],
      latched: [],
      counts: {
        remediations: 30,
        namespace: { name: 'shop', underRemediation: 30, pods: 40 },
        nodes: { underRemediation: 0, total: 4 },
      },
      release: DEFAULT_STORM_BRAKE.release,
      action: DEFAULT_STORM_BRAKE.action,
    };
    const text = formatBrake({
      scopes: [
        { scope: 'cluster', state: { ...state, trips: [], engaged: false } },
        { scope: 'namespace/shop', state },
      ],
      latches: [{ scope: 'nodes', since: '2026-05-17T10:00:00Z', reason: 'maintenance', by: 'bob' }],
      policyVersion: 'v3@abc',
    });
    expect(text).toContain('cluster                  released  30 remediations running');
    expect(text).toContain('namespace/shop           ENGAGED   30 of 40 pods under remediation');
    expect(text).toContain('storm brake engaged: 30 of 40 pods of namespace shop');
    expect(text).toContain('nodes since 2026-05-17T10:00:00Z by bob: maintenance');
  });
});

describe('client identity', () => {
  const temporal = { address: 'x', namespace: 'default', taskQueue: 'q' };
  it('is TALON_IDENTITY, else the mTLS certificate subject, else user@host', () => {
    expect(certificateIdentity(CERT)).toBe('mtls:CN=alice,O=sre');
    expect(resolveIdentity({ identity: 'carol', temporal })).toBe('carol');
    expect(
      resolveIdentity({
        temporal: { ...temporal, tls: { clientCertPair: { crt: Buffer.from(CERT), key: Buffer.from('') } } },
      }),
    ).toBe('mtls:CN=alice,O=sre');
    expect(resolveIdentity({ temporal })).toMatch(/^[^@]+@.+$/);
  });
});
