/**
 * The shipped alerting wiring agrees with Talon's one source of alert rules: every generated file is
 * what the renderer produces today, and the PrometheusRule carries exactly the production rules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PRODUCTION_RULE_OPTIONS, talonAlertRules } from '../../tools/stack/alert-rules';
import {
  alertmanagerConfigManifest,
  prometheusRuleManifest,
  renderedAlertingFiles,
} from '../../tools/stack/alert-wiring';

const root = join(__dirname, '..', '..');

describe('alerting wiring rendered from alert-rules.ts', () => {
  it.each(Object.entries(renderedAlertingFiles()))('%s is up to date (npm run deploy:render)', (path, rendered) => {
    const shipped = readFileSync(join(root, path), 'utf8');
    expect(parse(shipped)).toEqual(parse(rendered));
  });

  it('the PrometheusRule holds exactly the production rules, expressions untouched', () => {
    const shipped = parse(
      readFileSync(join(root, 'deploy/kustomize/components/prometheus-operator/prometheusrule.yaml'), 'utf8'),
    ) as { kind: string; spec: unknown };
    expect(shipped.kind).toBe('PrometheusRule');
    expect(shipped.spec).toEqual(talonAlertRules(PRODUCTION_RULE_OPTIONS));
    expect(prometheusRuleManifest().spec).not.toEqual(
      talonAlertRules({ ...PRODUCTION_RULE_OPTIONS, forDuration: '1m' }),
    );
  });

  it('the AlertmanagerConfig routes every Talon alert to the webhook with the bearer token from the Secret', () => {
    const spec = (alertmanagerConfigManifest() as { spec: Record<string, any> }).spec; // eslint-disable-line @typescript-eslint/no-explicit-any
    const pattern = new RegExp(`^(?:${spec.route.matchers[0].value as string})$`);
    for (const rule of talonAlertRules(PRODUCTION_RULE_OPTIONS).groups.flatMap((g) => g.rules)) {
      expect(pattern.test(rule.alert)).toBe(true);
    }
    expect(pattern.test('KubePodCrashLooping')).toBe(false);
    const hook = spec.receivers[0].webhookConfigs[0];
    expect(hook.url).toMatch(/^http:\/\/talon-webhook\.talon-system\.svc:8080\/api\/alerts$/);
    expect(hook.httpConfig.authorization).toEqual({
      type: 'Bearer',
      credentials: { name: 'talon-webhook', key: 'token' },
    });
  });
});
