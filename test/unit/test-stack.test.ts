/**
 * The test stack's environment: another state directory and other ports than a user's stack, the shared tool
 * cache, and none of the user's own Talon settings.
 */
import { loadStackConfig } from '../../src/config/local-stack';
import { exportLines, testStackEnv } from '../support/test-stack';

const user = {
  HOME: '/home/u',
  PATH: '/usr/bin',
  TALON_TEMPORAL_ADDRESS: 'prod:7233',
  TALON_DRY_RUN: 'true',
  TALON_STATE_DIR: '/home/u/my-stack',
  TALON_TEMPORAL_PORT: '7233',
  TALON_RECORD_HISTORIES: '1',
  TALON_TEST_STEP_LIMIT_MS: '1000',
  KUBERNETES_SERVICE_HOST: '10.0.0.1',
};

describe('the test stack', () => {
  it('shares only the tool cache with the user’s stack: its own state directory, cluster and ports', () => {
    const { config, env } = testStackEnv(user);
    const mine = loadStackConfig({ HOME: '/home/u' });
    expect(config.cacheDir).toBe(mine.cacheDir);
    expect(config.stateDir).toBe('/home/u/.cache/talon/test-stack');
    expect(config.stateDir).not.toBe(mine.stateDir);
    expect(config.clusterName).toBe('talon-test');
    const ports = (c: typeof config): number[] => [...Object.values(c.ports), c.ports.etcd + 1, c.ports.influxdb + 2];
    for (const port of ports(config)) {
      expect(ports(mine)).not.toContain(port);
      // Below the ephemeral range, where outgoing connections could hold them.
      expect(port).toBeLessThan(32_768);
    }
    expect(env.PATH).toBe('/usr/bin');
  });

  it('leaves out the user’s own Talon settings and keeps the test knobs', () => {
    const { env, dropped } = testStackEnv(user);
    expect(dropped).toEqual(['KUBERNETES_SERVICE_HOST', 'TALON_DRY_RUN', 'TALON_TEMPORAL_ADDRESS']);
    expect(env).toMatchObject({ TALON_RECORD_HISTORIES: '1', TALON_TEST_STEP_LIMIT_MS: '1000' });
    expect(env.TALON_TEMPORAL_PORT).toBe('27233');
    expect(env.TALON_STATE_DIR).toBe('/home/u/.cache/talon/test-stack');
    expect(exportLines(testStackEnv(user))).toMatch(/^unset KUBERNETES_SERVICE_HOST$/m);
    expect(exportLines(testStackEnv(user))).toMatch(/^export TALON_TEMPORAL_PORT='27233'$/m);
  });

  it('runs beside another test run with TALON_TEST_PORT_OFFSET, and refuses a bad offset', () => {
    const first = testStackEnv(user).config;
    const second = testStackEnv({ ...user, TALON_TEST_PORT_OFFSET: '100' }).config;
    expect(second.ports.temporal).toBe(first.ports.temporal + 100);
    expect(second.stateDir).toBe('/home/u/.cache/talon/test-stack-100');
    expect(() => testStackEnv({ ...user, TALON_TEST_PORT_OFFSET: '99999' })).toThrow(/TALON_TEST_PORT_OFFSET/);
  });
});
