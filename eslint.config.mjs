// Lint rules: typed TypeScript, no floating promises, no Node or adapters inside workflows/, and the layering of
// DESIGN.md's folder table as path zones (an import that points up the house fails lint).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

const workflowForbidden = [
  'node:*',
  'fs',
  'path',
  'http',
  'https',
  'child_process',
  'os',
  'crypto',
  'express',
  '@kubernetes/*',
  'onnxruntime-node',
  '@influxdata/*',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

/** Adapters and faces: what the domain never imports. */
const adapters = [
  './src/kube',
  './src/metrics',
  './src/policy',
  './src/webhook',
  './src/cli',
  './src/client',
  './src/config',
  './src/observability',
  './activities',
  './workers',
];
/** Development code outside the runtime: nothing the image ships may import it. */
const devOnly = ['./tools', './training', './bench', './test'];

export const layerZones = [
  {
    target: './src/domain',
    from: [...adapters, './src/contracts', './workflows'],
    message: 'src/domain is pure: it imports no adapter, face, contract or workflow (DESIGN.md, folder table).',
  },
  {
    target: './src/contracts',
    from: [...adapters, './workflows'],
    message: 'src/contracts imports only src/domain: workflows and faces share it (DESIGN.md, folder table).',
  },
  {
    target: './src/config',
    from: adapters.filter((a) => a !== './src/config'),
    message: 'src/config sits below its users: it imports only src/domain and src/contracts.',
  },
  {
    target: './workflows',
    from: './src',
    except: ['./domain', './contracts'],
    message: 'Workflows import only src/domain, src/contracts and activity types.',
  },
  {
    target: './workflows',
    from: ['./workers', ...devOnly],
    message: 'Workflows import only src/domain, src/contracts and activity types.',
  },
  {
    target: './activities',
    from: ['./src/webhook', './src/cli', './workers'],
    message: 'Activities know no face: no HTTP or CLI code, nothing from workers/.',
  },
  {
    // The entry point (workers/main.ts) composes the CLI with the worker's services and activities.
    target: './src',
    from: './workers',
    message: 'src/ imports nothing from workers/: workers compose src/, never the other way round.',
  },
  {
    target: './src',
    from: devOnly,
    message: 'src/ is the runtime: it imports nothing from tools/, training/, bench/ or test/.',
  },
];

/** The layering rule as every TypeScript file gets it (test/unit/lint-zones.test.ts lints probes with it). */
export const layerRule = ['error', { basePath: import.meta.dirname, zones: layerZones }];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      '.bench-dist/**',
      'node_modules/**',
      'coverage/**',
      'bin/**',
      'deploy/local/*.cjs',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importPlugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always'],
      'import/no-cycle': 'error',
      'import/no-restricted-paths': layerRule,
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['express', 'commander'].map((name) => ({
            name,
            message: 'Activities know no face: no HTTP or CLI code.',
          })),
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: workflowForbidden, message: 'Workflows are deterministic: no Node APIs, no I/O clients.' },
            {
              group: ['../activities/*', '../activities', '../../activities/*'],
              allowTypeImports: true,
              message: 'Import only activity types into workflows (import type).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
