/** TALON_MODEL_REGISTRY, TALON_SHADOW_MODEL, TALON_DECISION_LOG and exploration: defaults and refusals. */
import { learningConfigFromEnv } from '../../src/config/learning';
import { loadTalonConfig } from '../../src/config/talon-config';

describe('learning configuration', () => {
  it('defaults: no registry, no shadow, decisions logged, no exploration', () => {
    expect(learningConfigFromEnv({})).toEqual({ decisionLog: true, exploration: { epsilon: 0, namespaces: [] } });
  });

  it('a registry is followed by pointer (champion, challenger in shadow) unless a version is pinned', () => {
    expect(learningConfigFromEnv({ TALON_MODEL_REGISTRY: '/models' })).toEqual({
      registry: { dir: '/models', champion: 'champion', reloadSeconds: 10 },
      shadow: 'challenger',
      decisionLog: true,
      exploration: { epsilon: 0, namespaces: [] },
    });
    const pinned = learningConfigFromEnv({
      TALON_MODEL_REGISTRY: '/models',
      TALON_MODEL_VERSION: 'outcome-s1-n12000-e16',
      TALON_MODEL_RELOAD_SECONDS: '0',
      TALON_SHADOW_MODEL: 'off',
    });
    expect(pinned.registry).toEqual({
      dir: '/models',
      champion: { version: 'outcome-s1-n12000-e16' },
      reloadSeconds: 0,
    });
    expect(pinned.shadow).toBeUndefined();
    expect(learningConfigFromEnv({ TALON_SHADOW_MODEL: 'models/x.onnx' }).shadow).toEqual({ path: 'models/x.onnx' });
  });

  it('exploration needs opted-in namespaces and stays at most 0.5', () => {
    expect(learningConfigFromEnv({ TALON_EXPLORE_NAMESPACES: 'lab, canary' }).exploration).toEqual({
      epsilon: 0.05,
      namespaces: ['lab', 'canary'],
    });
    expect(learningConfigFromEnv({ TALON_EXPLORE_EPSILON: '0.3' }).exploration.epsilon).toBe(0);
  });

  it.each([
    [{ TALON_MODEL_REGISTRY: '/m', TALON_MODEL_PATH: 'models/policy.onnx' }, /both name the served model/],
    [{ TALON_MODEL_VERSION: 'v1' }, /TALON_MODEL_REGISTRY, which is unset/],
    [{ TALON_MODEL_REGISTRY: '/m', TALON_MODEL_VERSION: 'challenger' }, /cannot follow the challenger/],
    [{ TALON_MODEL_REGISTRY: '/m', TALON_MODEL_VERSION: '../x' }, /not a model version/],
    [{ TALON_SHADOW_MODEL: 'challenger' }, /TALON_MODEL_REGISTRY is unset/],
    [{ TALON_EXPLORE_EPSILON: '0.9' }, /TALON_EXPLORE_EPSILON/],
    [{ TALON_EXPLORE_NAMESPACES: 'Bad_NS' }, /not a namespace name/],
    [{ TALON_DECISION_LOG: 'maybe' }, /TALON_DECISION_LOG/],
  ])('refuses %j', (env, message) => {
    expect(() => learningConfigFromEnv(env)).toThrow(message);
  });

  it('is part of Talon’s configuration', () => {
    expect(loadTalonConfig({ TALON_MODEL_REGISTRY: '/m' }).learning.registry?.dir).toBe('/m');
  });
});
