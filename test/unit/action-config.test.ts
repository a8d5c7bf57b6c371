/**
 * The configuration of the actions that need more than the apiserver: rule thresholds (TALON_RULES), the
 * network ceiling shared by the QoS rule and the actuator, effect deadlines and the offload release.
 */
import { DEFAULT_ACTION_SETTINGS } from '../../src/config/defaults';
import { loadTalonConfig } from '../../src/config/talon-config';
import { ruleConfig } from '../../src/policy/rules';

const base = { TALON_TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('action configuration', () => {
  it('defaults: no rule overrides but the shared network ceiling, the documented action settings', () => {
    const config = loadTalonConfig(base);
    expect(config.rules).toEqual({ network: { ceilingMbps: 1000 } });
    expect(config.actions).toEqual(DEFAULT_ACTION_SETTINGS);
  });

  it('TALON_RULES overrides thresholds; the ceiling follows TALON_NETWORK_CEILING_MBPS; null turns a rule off', () => {
    const config = loadTalonConfig({
      ...base,
      TALON_RULES: '{"replicas":{"nodeBusyAbove":0.8},"io":null,"cpu":{"high":0.95}}',
      TALON_NETWORK_CEILING_MBPS: '250',
      TALON_EFFECT_DEADLINE_SECONDS: '60',
      TALON_OFFLOAD_RELEASE_AFTER_SECONDS: '30',
    });
    expect(config.rules).toEqual({
      replicas: { nodeBusyAbove: 0.8 },
      io: null,
      cpu: { high: 0.95 },
      network: { ceilingMbps: 250 },
    });
    const rules = ruleConfig(config.rules);
    expect(rules.replicas.nodeBusyAbove).toBe(0.8);
    expect(rules.io).toBeNull();
    expect(rules.network?.ceilingMbps).toBe(250);
    expect(config.actions).toMatchObject({
      networkCeilingMbps: 250,
      effectDeadlineSeconds: 60,
      offloadReleaseAfterSeconds: 30,
    });
  });

  it('refuses a TALON_RULES that is not JSON, has unknown keys or wrong types, naming the variable', () => {
    expect(() => loadTalonConfig({ ...base, TALON_RULES: '{replicas' })).toThrow(/TALON_RULES: not JSON/);
    expect(() => loadTalonConfig({ ...base, TALON_RULES: '{"replica":{}}' })).toThrow(/TALON_RULES: .*replica/);
    expect(() => loadTalonConfig({ ...base, TALON_RULES: '{"io":{"highBytesPerSecond":"lots"}}' })).toThrow(
      /TALON_RULES: io.highBytesPerSecond/,
    );
    expect(() => loadTalonConfig({ ...base, TALON_EFFECT_DEADLINE_SECONDS: '900' })).toThrow(
      /TALON_EFFECT_DEADLINE_SECONDS/,
    );
    expect(() => loadTalonConfig({ ...base, TALON_OFFLOAD_RECOVERED_BELOW: '2' })).toThrow(
      /TALON_OFFLOAD_RECOVERED_BELOW/,
    );
  });
});
