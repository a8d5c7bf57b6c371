/**
 * The catalogue of servers and command-line tools the local stack needs, each with a pinned version,
 * the registry it comes from and the recipe that builds it. Nothing here runs anything: the setup
 * runner (setup.ts) executes these recipes.
 */

/** One command of a recipe. `{{dir}}` in args/env is replaced by the tool's build directory. */
export interface BuildCommand {
  readonly title: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Run inside the tool's build directory (default) or the system temp dir. */
  readonly cwd?: 'build' | 'tmp';
}

/** A file the recipe writes into the build directory before its commands run. */
export interface GeneratedFile {
  readonly path: string;
  readonly mode?: number;
  /** Content, or a function of the build directory for content that needs discovery (e.g. go.mod). */
  readonly content: string | ((ctx: RecipeContext) => Promise<string>);
}

export interface RecipeContext {
  readonly buildDir: string;
  run(command: string, args: readonly string[], options?: { cwd?: string }): Promise<string>;
}

export interface VersionCheck {
  readonly binary: string;
  readonly args: readonly string[];
  /** The check passes when the output (stdout + stderr) matches. */
  readonly expect: RegExp;
}

export interface ToolSpec {
  readonly name: string;
  readonly version: string;
  /** Where the sources or packages come from; named in failures so the cause is obvious. */
  readonly registry: string;
  /** Host programs the recipe needs before it can start. */
  readonly needs: readonly string[];
  readonly files: readonly GeneratedFile[];
  readonly commands: readonly BuildCommand[];
  /** Binaries the recipe leaves in `<buildDir>/bin`. */
  readonly binaries: readonly string[];
  readonly checks: readonly VersionCheck[];
  /**
   * Used only by tests and benchmarks (the Temporal-on-PostgreSQL harness), never by the stack itself:
   * `npm start` and `talon setup` skip it, `npm test` builds it.
   */
  readonly testOnly?: boolean;
}

export const TEMPORAL_CLI_VERSION = '1.5.1';
export const KUBERNETES_VERSION = '1.34.4';
export const ETCD_VERSION = '3.6.16';
export const KWOK_VERSION = '0.7.0';
export const INFLUXDB_VERSION = '1.12.4';
export const INFLUX_PKG_CONFIG_VERSION = '0.2.14';
/** The server module that the Temporal CLI v1.5.1 embeds (its go.mod requires go.temporal.io/server v1.29.1). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';

const goEnv = { CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' } as const;

const temporal: ToolSpec = {
  name: 'temporal',
  version: TEMPORAL_CLI_VERSION,
  registry: 'Go module proxy (github.com/temporalio/cli)',
  needs: ['go'],
  files: [],
  commands: [
    {
      title: `go install temporal CLI v${TEMPORAL_CLI_VERSION} (server + UI)`,
      command: 'go',
      args: [
        'install',
        '-ldflags',
        `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
        `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
      ],
      env: { ...goEnv, GOBIN: '{{dir}}/bin' },
    },
  ],
  binaries: ['temporal'],
  checks: [{ binary: 'temporal', args: ['--version'], expect: new RegExp(`temporal version ${TEMPORAL_CLI_VERSION}`) }],
};

/**
 * The full Temporal server (not the CLI's SQLite-only dev server) and its SQL schema tool, for a
 * Temporal on PostgreSQL as production runs it. Same server version as the CLI embeds. The schema
 * files ship in the server module; they are copied next to the binaries so the harness never reads
 * the Go module cache.
 */
const temporalServer: ToolSpec = {
  name: 'temporal-server',
  testOnly: true,
  version: TEMPORAL_SERVER_VERSION,
  registry: 'Go module proxy (go.temporal.io/server)',
  needs: ['go'],
  files: [],
  commands: [
    {
      title: `go install temporal server + temporal-sql-tool v${TEMPORAL_SERVER_VERSION} (the slow one)`,
      command: 'go',
      args: [
        'install',
        '-trimpath',
        '-ldflags',
        '-s -w',
        `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`,
        `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
      ],
      env: { ...goEnv, GOBIN: '{{dir}}/bin' },
    },
    {
      title: 'name the binaries and copy the PostgreSQL schema out of the module',
      command: 'sh',
      args: [
        '-c',
        'set -e; mv -f bin/server bin/temporal-server; mv -f bin/sql bin/temporal-sql-tool; ' +
          `src=$(go mod download -json go.temporal.io/server@v${TEMPORAL_SERVER_VERSION} | ` +
          `sed -n 's/^[[:space:]]*"Dir": "\\(.*\\)",$/\\1/p'); ` +
          'test -d "$src/schema/postgresql/v12"; rm -rf schema; mkdir -p schema; ' +
          'cp -R "$src/schema/postgresql" schema/postgresql; chmod -R u+w schema',
      ],
      env: goEnv,
    },
  ],
  binaries: ['temporal-server', 'temporal-sql-tool'],
  checks: [
    {
      binary: 'temporal-server',
      args: ['--version'],
      expect: new RegExp(`temporal version ${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}`),
    },
    {
      binary: 'temporal-sql-tool',
      args: ['--version'],
      expect: new RegExp(`temporal-sql-tool version ${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}`),
    },
  ],
};

/**
 * k8s.io/kubernetes replaces its staging modules with local folders, so `go install` refuses it. A
 * wrapper module requires it and points every staging module at its published v0 twin; the list is
 * read from upstream's go.mod at the same tag so it can never drift.
 */
export async function kubernetesWrapperGoMod(ctx: RecipeContext, version = KUBERNETES_VERSION): Promise<string> {
  const info = await ctx.run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@v${version}`], {
    cwd: ctx.buildDir,
  });
  const goModPath = (JSON.parse(info) as { GoMod?: string }).GoMod;
  if (!goModPath) throw new Error(`go mod download did not report a go.mod for k8s.io/kubernetes@v${version}`);
  const { readFile } = await import('node:fs/promises');
  return renderKubernetesWrapperGoMod(await readFile(goModPath, 'utf8'), version);
}

/** Pure part of {@link kubernetesWrapperGoMod}: upstream go.mod text → wrapper go.mod text. */
export function renderKubernetesWrapperGoMod(upstreamGoMod: string, version: string): string {
  const stagingVersion = `v0.${version.split('.').slice(1).join('.')}`;
  const staging = [...upstreamGoMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map((m) => m[1]!);
  if (staging.length === 0) throw new Error('upstream go.mod has no staging replace block; the recipe needs updating');
  const replaces = staging.map((mod) => `\t${mod} => ${mod} ${stagingVersion}`).join('\n');
  return `module talon.local/kubebuild\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v${version}\n\nreplace (\n${replaces}\n)\n`;
}

const kubeCommands = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;

const kubernetes: ToolSpec = {
  name: 'kubernetes',
  version: KUBERNETES_VERSION,
  registry: 'Go module proxy (k8s.io/kubernetes + staging modules)',
  needs: ['go'],
  files: [
    { path: 'go.mod', content: (ctx) => kubernetesWrapperGoMod(ctx) },
    {
      path: 'tools.go',
      content: `//go:build tools\n\npackage tools\n\nimport (\n${kubeCommands.map((c) => `\t_ "k8s.io/kubernetes/cmd/${c}"`).join('\n')}\n)\n`,
    },
  ],
  commands: [
    { title: 'go mod tidy (resolve the staging modules)', command: 'go', args: ['mod', 'tidy'], env: goEnv },
    {
      title: `go build ${kubeCommands.join(', ')} v${KUBERNETES_VERSION}`,
      command: 'go',
      args: [
        'build',
        '-trimpath',
        '-ldflags',
        [
          '-s -w',
          `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
          `-X k8s.io/component-base/version.gitMajor=1`,
          `-X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION.split('.')[1]}`,
          `-X k8s.io/component-base/version.gitTreeState=clean`,
        ].join(' '),
        '-o',
        'bin/',
        ...kubeCommands.map((c) => `k8s.io/kubernetes/cmd/${c}`),
      ],
      env: goEnv,
    },
  ],
  binaries: [...kubeCommands],
  checks: [
    { binary: 'kube-apiserver', args: ['--version'], expect: new RegExp(`Kubernetes v${KUBERNETES_VERSION}`) },
    { binary: 'kube-controller-manager', args: ['--version'], expect: new RegExp(`Kubernetes v${KUBERNETES_VERSION}`) },
    { binary: 'kube-scheduler', args: ['--version'], expect: new RegExp(`Kubernetes v${KUBERNETES_VERSION}`) },
    { binary: 'kubectl', args: ['version', '--client'], expect: new RegExp(`Client Version: v${KUBERNETES_VERSION}`) },
  ],
};

const etcd: ToolSpec = {
  name: 'etcd',
  version: ETCD_VERSION,
  registry: 'Go module proxy (go.etcd.io/etcd/server/v3)',
  needs: ['go'],
  files: [
    {
      path: 'go.mod',
      content: `module talon.local/etcdbuild\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v${ETCD_VERSION}\n`,
    },
    {
      path: 'main.go',
      content:
        '// Command etcd wraps etcdmain so the server builds from the Go module proxy.\npackage main\n\n' +
        'import (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
    },
  ],
  commands: [
    { title: 'go mod tidy', command: 'go', args: ['mod', 'tidy'], env: goEnv },
    {
      title: `go build etcd v${ETCD_VERSION}`,
      command: 'go',
      args: ['build', '-trimpath', '-ldflags', '-s -w', '-o', 'bin/etcd', '.'],
      env: goEnv,
    },
  ],
  binaries: ['etcd'],
  checks: [{ binary: 'etcd', args: ['--version'], expect: new RegExp(`etcd Version: ${ETCD_VERSION}`) }],
};

const kwok: ToolSpec = {
  name: 'kwok',
  version: KWOK_VERSION,
  registry: 'Go module proxy (sigs.k8s.io/kwok)',
  needs: ['go'],
  files: [],
  commands: [
    {
      title: `go install kwok + kwokctl v${KWOK_VERSION}`,
      command: 'go',
      args: [
        'install',
        '-ldflags',
        '-s -w',
        `sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}`,
        `sigs.k8s.io/kwok/cmd/kwokctl@v${KWOK_VERSION}`,
      ],
      env: { ...goEnv, GOBIN: '{{dir}}/bin' },
    },
  ],
  binaries: ['kwok', 'kwokctl'],
  checks: [
    { binary: 'kwok', args: ['--version'], expect: /kwok version/ },
    { binary: 'kwokctl', args: ['--version'], expect: /kwokctl version/ },
  ],
};

/**
 * Prometheus and Alertmanager come from Debian's packages; the binaries are copied into the cache so
 * the stack never depends on where apt put them and a damaged copy is detected like any other.
 */
const prometheus: ToolSpec = {
  name: 'prometheus',
  version: 'debian-bookworm',
  registry: "Debian's packages (prometheus, prometheus-alertmanager)",
  needs: ['apt-get'],
  files: [],
  commands: [
    {
      title: 'apt-get install prometheus prometheus-alertmanager',
      command: 'sh',
      args: [
        '-c',
        'if ! command -v /usr/bin/prometheus >/dev/null || ! command -v /usr/bin/prometheus-alertmanager >/dev/null; then ' +
          'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ' +
          'prometheus prometheus-alertmanager; fi && mkdir -p bin && ' +
          'cp /usr/bin/prometheus bin/prometheus && cp /usr/bin/prometheus-alertmanager bin/alertmanager && ' +
          'cp /usr/bin/promtool bin/promtool && cp /usr/bin/amtool bin/amtool',
      ],
    },
  ],
  binaries: ['prometheus', 'promtool', 'alertmanager', 'amtool'],
  checks: [
    { binary: 'prometheus', args: ['--version'], expect: /prometheus, version 2\./ },
    { binary: 'alertmanager', args: ['--version'], expect: /alertmanager, version 0\./ },
  ],
};

/**
 * PostgreSQL 15 from Debian for the Temporal-on-PostgreSQL harness (scale-out test and benchmark). The
 * binaries stay where the package put them (they find their share/ and lib/ folders from there); the
 * cache holds links so a missing or replaced installation is detected like any other tool.
 */
export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
const postgresBinaries = ['postgres', 'initdb', 'pg_isready'] as const;
const postgresql: ToolSpec = {
  name: 'postgresql',
  testOnly: true,
  version: 'debian-bookworm-15',
  registry: "Debian's packages (postgresql-15)",
  needs: ['apt-get'],
  files: [],
  commands: [
    {
      title: 'apt-get install postgresql-15 (if missing) and link its binaries',
      command: 'sh',
      args: [
        '-c',
        `if [ ! -x ${POSTGRES_BIN_DIR}/postgres ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive ` +
          'apt-get install -y -qq --no-install-recommends postgresql-15; fi && mkdir -p bin && ' +
          postgresBinaries.map((b) => `ln -sf ${POSTGRES_BIN_DIR}/${b} bin/${b}`).join(' && '),
      ],
    },
  ],
  binaries: [...postgresBinaries],
  checks: [{ binary: 'postgres', args: ['--version'], expect: /PostgreSQL\) 15\./ }],
};

/**
 * InfluxDB 1.x serves the v2 write and Flux query API that @influxdata/influxdb-client speaks. Flux
 * links a Rust library built by cargo through influxdata's pkg-config shim; its `deny(warnings)` and
 * pinned toolchain do not survive a current rustc, hence the stable toolchain and capped lints.
 */
const influxdb: ToolSpec = {
  name: 'influxdb',
  version: INFLUXDB_VERSION,
  registry: 'Go module proxy (github.com/influxdata/influxdb) + crates.io (libflux)',
  needs: ['go', 'cargo', 'pkgconf'],
  files: [
    {
      path: 'rustc-wrapper.sh',
      mode: 0o755,
      content:
        '#!/bin/sh\n# Flux denies warnings; a newer rustc adds lints, so cap them.\nexec "$@" --cap-lints warn\n',
    },
  ],
  commands: [
    {
      title: `go install influxdata pkg-config v${INFLUX_PKG_CONFIG_VERSION}`,
      command: 'go',
      args: ['install', `github.com/influxdata/pkg-config@v${INFLUX_PKG_CONFIG_VERSION}`],
      env: { GOBIN: '{{dir}}/bin' },
    },
    {
      title: `go install influxd v${INFLUXDB_VERSION} (builds Flux's Rust core; the slow one)`,
      command: 'go',
      args: [
        'install',
        '-ldflags',
        `-s -w -X main.version=${INFLUXDB_VERSION}`,
        `github.com/influxdata/influxdb/cmd/influxd@v${INFLUXDB_VERSION}`,
      ],
      env: {
        GOBIN: '{{dir}}/bin',
        PKG_CONFIG: '{{dir}}/bin/pkg-config',
        RUSTUP_TOOLCHAIN: 'stable',
        RUSTC_WRAPPER: '{{dir}}/rustc-wrapper.sh',
      },
    },
  ],
  binaries: ['influxd'],
  checks: [{ binary: 'influxd', args: ['version'], expect: new RegExp(`InfluxDB v?${INFLUXDB_VERSION}`) }],
};

export const TOOLS: readonly ToolSpec[] = [
  temporal,
  temporalServer,
  postgresql,
  kwok,
  etcd,
  prometheus,
  kubernetes,
  influxdb,
];

/** What the local stack and the demo run: every tool but the test-only ones. */
export const STACK_TOOLS: readonly ToolSpec[] = TOOLS.filter((t) => t.testOnly !== true);

export function findTool(name: string): ToolSpec {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`unknown tool "${name}"; known: ${TOOLS.map((t) => t.name).join(', ')}`);
  return tool;
}
