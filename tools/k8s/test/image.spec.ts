// The container image without a Docker engine: the Dockerfile's build steps (deploy/docker/build-runtime.sh)
// run on a copy of the repository, and every workload the Helm chart renders starts from their output with its
// pod's settings and files, as the image's CMD would start it, as far as its configuration check.
// Runs in the time-scaled suites' idle CPU (scripts/test-all.sh), at nice 19: it needs no broker, only CPU
// (some 37 CPU-s of installing and compiling), and took 30 s alone but 53 s among the integration files,
// where it held a worker and took the others' CPU.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EXAMPLE_OPERATOR_SECRETS, REPO_ROOT, renderChart, TWO_LANES, WITH_KEDA } from '../src/chart';
import { objectsOf, parseManifests, podSpecOf, podView, serviceOf } from '../src/manifests';

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'deploy/docker/Dockerfile'), 'utf8');
const TOOLCHAIN = readFileSync(join(REPO_ROOT, 'scripts/toolchain.sh'), 'utf8');

let dir: string;
/** The image's /app. */
let app: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tern-image-'));
  // The build context: the repository's files as `COPY . .` takes them (.dockerignore leaves out
  // node_modules, dist, .tools, .local and .git, which git does not list either).
  const context = join(dir, 'context');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f.length > 0 && existsSync(join(REPO_ROOT, f)));
  for (const file of files) {
    mkdirSync(dirname(join(context, file)), { recursive: true });
    cpSync(join(REPO_ROOT, file), join(context, file), { verbatimSymlinks: true });
  }
  app = join(dir, 'app');
  execFileSync('bash', ['deploy/docker/build-runtime.sh', app], { cwd: context, stdio: 'inherit' });
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the container image', () => {
  it('builds with the toolchain’s Node and pnpm, runs the runtime script, and runs as an unprivileged user', () => {
    const node = /TERN_NODE_VERSION=(\d+)\./.exec(TOOLCHAIN)?.[1];
    const pnpm = /TERN_PNPM_VERSION=(\S+)/.exec(TOOLCHAIN)?.[1];
    const stages = [...DOCKERFILE.matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    expect(stages).toEqual([node, node]);
    expect(DOCKERFILE).toContain(`npm install -g pnpm@${pnpm}\n`);
    expect(DOCKERFILE).toMatch(/^RUN bash deploy\/docker\/build-runtime\.sh \/app$/m);
    expect(DOCKERFILE).toMatch(/^COPY --from=build \/app \/app$/m);
    expect(DOCKERFILE).toMatch(/^USER node$/m);
    const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(dockerignore).toEqual(
      expect.arrayContaining(['**/node_modules', '**/dist', '.git', '.local', '.tools']),
    );
  });

  it('holds compiled code and production dependencies only', () => {
    const pnpmStore = readdirSync(join(app, 'node_modules/.pnpm'));
    for (const devOnly of ['jest@', 'typescript@', 'eslint@', '@swc+core@', 'tsx@', 'prettier@']) {
      expect(pnpmStore.filter((p) => p.startsWith(devOnly))).toEqual([]);
    }
    const packages = [
      'proto',
      ...['libs', 'services'].flatMap((d) => readdirSync(join(app, d)).map((p) => `${d}/${p}`)),
    ];
    expect(packages).not.toContain('libs/testing');
    for (const pkg of packages) {
      expect({
        pkg,
        entries: readdirSync(join(app, pkg)).filter((e) => ['src', 'test', 'bench'].includes(e)),
      }).toEqual({
        pkg,
        entries: pkg === 'proto' ? ['src'] : [],
      });
    }
    // proto/src holds only the descriptors the gRPC servers load, no TypeScript.
    expect(readdirSync(join(app, 'proto/src'), { recursive: true })).toEqual([
      'gen',
      'gen/descriptors.binpb',
    ]);
  });

  it('starts every workload of the chart with its pod’s settings and files, as its CMD does', () => {
    const manifests = parseManifests(renderChart({ values: [TWO_LANES], apiVersions: WITH_KEDA }));
    const cmd =
      /^CMD \["sh", "-c", "exec node (services\/\$\{TERN_SERVICE:\?set TERN_SERVICE\}\/dist\/main\.js)"\]$/m.exec(
        DOCKERFILE,
      )?.[1];
    expect(cmd).toBeDefined();
    const outcomes: Record<string, string> = {};
    for (const workload of objectsOf(manifests, 'Deployment')) {
      const { env } = podView(manifests, workload, join(dir, 'pod'), EXAMPLE_OPERATOR_SECRETS);
      const main = cmd!.replace('${TERN_SERVICE:?set TERN_SERVICE}', serviceOf(workload));
      const run = spawnSync(process.execPath, [main, '--check-config'], {
        cwd: app,
        env: { ...env, PATH: process.env.PATH, NODE_ENV: 'production' },
        encoding: 'utf8',
      });
      outcomes[workload.metadata.name] = `${run.status}: ${run.stdout}${run.stderr}`.trim();
    }
    expect(outcomes).toEqual(
      Object.fromEntries(
        objectsOf(manifests, 'Deployment').map((w) => [
          w.metadata.name,
          `0: ${serviceOf(w)}: configuration ok`,
        ]),
      ),
    );

    // The topics Job's command is in the image too: without brokers it says what it needs.
    const command = podSpecOf(objectsOf(manifests, 'Job')[0]!).containers[0]?.command ?? [];
    expect(command[0]).toBe('node');
    const topics = spawnSync(process.execPath, command.slice(1), { cwd: app, env: {}, encoding: 'utf8' });
    expect({ status: topics.status, stderr: topics.stderr }).toEqual({
      status: 1,
      stderr: expect.stringContaining('TERN_KAFKA_BROKERS: is required'),
    });
  });
});
