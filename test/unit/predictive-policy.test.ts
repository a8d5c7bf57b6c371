/**
 * The policy file's `predictive` section and `predictiveAutonomy`: off by default, every field validated with an
 * error naming it, and a predicted alert's remediation never doing more than the scope's `predictiveAutonomy`
 * (`recommend` by default) nor more than the alert it anticipates would.
 */
import { parsePolicyFile, PolicyFileError } from '../../src/config/policy-file';
import { mostCautious, resolvePolicy, type AlertScope } from '../../src/domain/autonomy';
import { ALERT_LIMIT_SHARES, DEFAULT_PREDICTIVE, predictedLabels } from '../../src/domain/predictive';
import { checkPolicyRules } from '../../src/policy/rules';

const head = `apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\n`;
const parse = (body: string) => parsePolicyFile(`${head}${body}`, 'policy.yaml', checkPolicyRules);
const refusal = (body: string): string => {
  try {
    parse(body);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    return (err as Error).message;
  }
  throw new Error('the policy was accepted');
};

const predicted = (namespace: string): AlertScope => ({
  alertName: 'TalonPredictedCpuSaturation',
  labels: predictedLabels({ namespace, pod: 'web-1', container: 'app', resource: 'cpu' }),
  kind: 'pod',
  namespace,
});
const real = (namespace: string): AlertScope => ({
  alertName: 'TalonPodCpuNearLimit',
  labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
  kind: 'pod',
  namespace,
});

describe('the predictive section', () => {
  test('absent: the watch is off, predicted remediations only recommend, the thresholds are the alert rules’', () => {
    const policy = parse('');
    expect(policy.predictive).toEqual(DEFAULT_PREDICTIVE);
    expect(policy.predictive.enabled).toBe(false);
    expect(policy.predictive.thresholds).toEqual(ALERT_LIMIT_SHARES);
    expect(policy.defaults.predictiveAutonomy).toBe('recommend');
  });

  test('given: its values, the rest defaulted, thresholds merged by resource', () => {
    const policy = parse(`predictive:
  enabled: true
  horizonSeconds: 120
  confidence: 0.95
  intervalSeconds: 15
  lookbackSeconds: 600
  stepSeconds: 5
  namespaces: [shop, 'team-*']
  resources: [cpu]
  thresholds: { cpu: 0.75 }
  resolveAfter: 3
`);
    expect(policy.predictive).toEqual({
      ...DEFAULT_PREDICTIVE,
      enabled: true,
      horizonSeconds: 120,
      confidence: 0.95,
      intervalSeconds: 15,
      lookbackSeconds: 600,
      stepSeconds: 5,
      namespaces: ['shop', 'team-*'],
      resources: ['cpu'],
      thresholds: { cpu: 0.75, memory: ALERT_LIMIT_SHARES.memory },
      resolveAfter: 3,
    });
  });

  test.each([
    ['predictive:\n  confidence: 1\n', /predictive\.confidence: below 1/],
    ['predictive:\n  confidence: 0.5\n', /predictive\.confidence: above 0\.5/],
    ['predictive:\n  enabled: yes please\n', /predictive\.enabled/],
    ['predictive:\n  horizon: 300\n', /predictive: Unrecognized key: "horizon"/],
    ['predictive:\n  thresholds: { cpu: 0 }\n', /predictive\.thresholds\.cpu: a share of the limit above 0/],
    ['predictive:\n  resources: [disk]\n', /predictive\.resources\.0/],
    ['predictive:\n  namespaces: [Shop]\n', /predictive\.namespaces\.0: a namespace name, or a prefix ending in \*/],
    [
      'predictive:\n  lookbackSeconds: 300\n  stepSeconds: 30\n  horizonSeconds: 60\n',
      /predictive\.lookbackSeconds: 300s at stepSeconds 30s is 10 samples; a forecast needs 12 to 720/,
    ],
    [
      'predictive:\n  lookbackSeconds: 600\n  horizonSeconds: 900\n',
      /predictive\.horizonSeconds: 900s reaches further ahead than lookbackSeconds 600s looks back/,
    ],
    [
      'predictive:\n  stepSeconds: 60\n  horizonSeconds: 30\n',
      /predictive\.horizonSeconds: 30s is shorter than one step/,
    ],
    ['predictive:\n  enabled: true\n  resources: []\n', /predictive\.resources: enabled with no resource to watch/],
    [
      'defaults:\n  predictiveAutonomy: auto\npredictive:\n  autonomy: recommend\n',
      /defaults\.predictiveAutonomy: auto contradicts predictive\.autonomy recommend; set one of them/,
    ],
    ['defaults:\n  predictiveAutonomy: always\n', /defaults\.predictiveAutonomy/],
  ])('refuses %j, naming the field', (body, message) => {
    expect(refusal(body)).toMatch(message);
  });
});

describe('a predicted alert under the policy', () => {
  const policy = parse(`defaults:
  autonomy: auto
overrides:
  - name: lab-acts-ahead
    match: { namespaces: [lab] }
    set: { predictiveAutonomy: auto }
  - name: careful
    match: { namespaces: [careful] }
    set: { autonomy: observe, predictiveAutonomy: auto }
  - name: approvals
    match: { namespaces: [payments] }
    set: { autonomy: approve }
predictive:
  enabled: true
`);

  test('recommends by default, where the real alert would be applied', () => {
    const forecast = resolvePolicy(policy, predicted('shop'));
    expect(forecast.settings.autonomy).toBe('recommend');
    expect(forecast.predicted).toEqual({ autonomy: 'recommend', capped: true });
    const alert = resolvePolicy(policy, real('shop'));
    expect(alert.settings.autonomy).toBe('auto');
    expect(alert.predicted).toBeUndefined();
  });

  test('acts where the operator raised predictiveAutonomy for the namespace', () => {
    expect(resolvePolicy(policy, predicted('lab'))).toMatchObject({
      settings: { autonomy: 'auto' },
      predicted: { autonomy: 'auto', capped: false },
      matched: ['lab-acts-ahead'],
    });
  });

  test('never does more than the real alert would: the more cautious level applies', () => {
    expect(resolvePolicy(policy, predicted('careful')).settings.autonomy).toBe('observe');
    expect(resolvePolicy(policy, predicted('payments')).settings.autonomy).toBe('recommend');
    expect(mostCautious('approve', 'recommend')).toBe('recommend');
    expect(mostCautious('auto', 'approve')).toBe('approve');
    expect(mostCautious('observe', 'auto')).toBe('observe');
  });

  test('predictive.autonomy sets the default predictiveAutonomy', () => {
    const acting = parse('predictive:\n  autonomy: approve\n');
    expect(acting.defaults.predictiveAutonomy).toBe('approve');
    expect(resolvePolicy(acting, predicted('shop')).settings.autonomy).toBe('approve');
    // Saying the same in both places is not a contradiction.
    expect(
      parse('defaults:\n  predictiveAutonomy: observe\npredictive:\n  autonomy: observe\n').predictive.autonomy,
    ).toBe('observe');
  });
});
