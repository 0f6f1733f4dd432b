// The package as a user gets it: `npm pack`, then `npm install` of the tarball into a temporary
// project outside this repository, used from CommonJS, from an ES module and from TypeScript, through
// its three entry points (`express-async-stream`, `express-async-stream/redis` and
// `express-async-stream/testing`), with no Redis client library installed; and the tarball checked by
// publint and by arethetypeswrong. package.test.ts checks dist/ in place (self-reference);
// this checks what the tarball holds and how a separate project resolves it.
//
// `npm test` builds dist/ before jest runs. The consumers are in __tests__/fixtures/installed/.
import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Packing, installing, three TypeScript programs and two linters take about 10 s on a busy 2-core
// machine; this leaves a margin of more than 4x.
// Above a child process's own 60 s limit, so that its message (not jest's) reports a hang.
const SLOW = 90_000;
jest.setTimeout(SLOW);

const root = path.resolve(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures', 'installed');
const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * The environment for child processes, without the `npm_*` variables of the jest run (`npx jest`
 * sets `npm_config_local_prefix` to this repository, and `npm test` sets `npm_package_*`), so that
 * npm works on the temporary project as if started there.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) || /^npm_config_(cache|userconfig|globalconfig)$/i.test(name)) env[name] = value;
  }
  return env;
}

interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs `file args` in `cwd`; resolves with its output and exit code (rejects only if it cannot start or times out). */
function run(file: string, args: readonly string[], cwd: string, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: childEnv(), timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number')
        reject(new Error(`${[file, ...args].join(' ')}: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr, code: typeof error?.code === 'number' ? error.code : 0 });
    });
  });
}

/** Like {@link run}, but fails unless the exit code is 0. */
async function runOk(file: string, args: readonly string[], cwd: string): Promise<string> {
  const ran = await run(file, args, cwd);
  if (ran.code !== 0)
    throw new Error(`${[file, ...args].join(' ')} exited with ${ran.code}:\n${ran.stdout}\n${ran.stderr}`);
  return ran.stdout;
}

/**
 * Runs `file args` with its stdout going to a file: attw exits before a piped stdout is flushed, which
 * cuts its JSON report at 64 KiB.
 */
function runToFile(file: string, args: readonly string[], cwd: string, output: string): Promise<Ran> {
  const fd = openSync(output, 'w');
  return new Promise<Ran>((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: childEnv(), stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (part: string) => (stderr += part));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: readFileSync(output, 'utf8'), stderr, code: code ?? -1 }));
  }).finally(() => closeSync(fd));
}

/** npm, the same one that runs this test when there is one. */
function npm(args: readonly string[], cwd: string): Promise<string> {
  const npmCli = process.env.npm_execpath;
  return npmCli !== undefined && /npm-cli\.c?js$/.test(npmCli)
    ? runOk(process.execPath, [npmCli, ...args], cwd)
    : runOk('npm', args, cwd);
}

/** Parses the last line a consumer printed: its result, as JSON. */
function lastJsonLine<T>(stdout: string, what: string): T {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${what} printed no JSON result:\n${stdout}`);
  }
}

/** Starts `start` once, when first asked. */
function lazily<T>(start: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= start());
}

const work = mkdtempSync(path.join(os.tmpdir(), 'eas-installed-'));
const project = path.join(work, 'consumer');

/** `npm pack` into the temporary folder; resolves with the tarball's path. */
const pack = lazily(async () => {
  // --ignore-scripts: `prepack` would rebuild (rm -rf) dist/ under the other test files' feet; `npm test`
  // has built it already.
  const stdout = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  return path.join(work, filename);
});

/**
 * A new project with the tarball installed by npm, and express plus the declarations TypeScript
 * needs linked from this repository's node_modules (installing them would mean the network).
 */
const install = lazily(async () => {
  const tarball = await pack();
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true }, null, 2)}\n`,
  );
  // --offline: the tarball has no dependencies to fetch. --legacy-peer-deps: express, the peer
  // dependency, is linked below rather than installed.
  await npm(
    ['install', '--offline', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', tarball],
    project,
  );
  for (const name of ['express', '@types/express', '@types/node']) {
    const link = path.join(project, 'node_modules', name);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(root, 'node_modules', name), link, process.platform === 'win32' ? 'junction' : 'dir');
  }
  for (const file of [
    'scenario.cjs',
    'consumer.cjs',
    'consumer.mjs',
    'tsconfig.base.json',
    'tsconfig.cjs.json',
    'tsconfig.esm.json',
    'tsconfig.node10.json',
  ]) {
    cpSync(path.join(fixtures, file), path.join(project, file));
  }
  for (const copy of ['consumer.cts', 'consumer.mts', 'consumer-node10.ts']) {
    cpSync(path.join(fixtures, 'consumer.ts'), path.join(project, copy));
  }
  return project;
});

/** The files a TypeScript program read, relative to the project (`--listFiles`), once it type-checked. */
async function compile(tsconfig: string): Promise<string[]> {
  const cwd = await install();
  const stdout = await runOk(process.execPath, [tsc, '-p', tsconfig, '--listFiles', '--pretty', 'false'], cwd);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((file) => path.relative(cwd, file.trim()).split(path.sep).join('/'));
}

/** Runs a consumer with Node in the project and parses its result. */
async function consume<T>(file: string): Promise<T> {
  const cwd = await install();
  return lastJsonLine<T>(await runOk(process.execPath, [file], cwd), file);
}

interface Result {
  entry: 'cjs' | 'esm';
  resolved?: { root: string; testing: string; redis: string };
  builds: string[];
  count: Record<string, unknown>;
  topic: Record<string, unknown>;
  redis: Record<string, unknown>;
  made: Record<string, unknown>;
  events: Record<string, unknown>;
  rows: Record<string, unknown>;
  fails: Record<string, unknown>;
}

interface AttwResolution {
  resolution?: { fileName: string };
}
interface AttwReport {
  analysis: {
    problems: unknown[];
    entrypoints: Record<string, { resolutions: Record<string, AttwResolution> }>;
  };
}

const runs = {
  cjs: lazily(() => consume<Result>('consumer.cjs')),
  esm: lazily(() => consume<Result>('consumer.mjs')),
  typesCjs: lazily(() => compile('tsconfig.cjs.json')),
  typesEsm: lazily(() => compile('tsconfig.esm.json')),
  typesNode10: lazily(() => compile('tsconfig.node10.json')),
  tsCjs: lazily(async () => {
    await runs.typesCjs();
    return consume<Result>('out/consumer.cjs');
  }),
  tsEsm: lazily(async () => {
    await runs.typesEsm();
    return consume<Result>('out/consumer.mjs');
  }),
  publint: lazily(async () => run(bin('publint'), ['run', await pack()], work)),
  attw: lazily(async () => {
    const ran = await runToFile(bin('attw'), [await pack(), '--format', 'json'], work, path.join(work, 'attw.json'));
    return { ...ran, report: JSON.parse(ran.stdout) as AttwReport };
  }),
};

beforeAll(() => {
  for (const file of [
    'dist/cjs/index.js',
    'dist/esm/index.js',
    'dist/cjs/testing/index.d.ts',
    'dist/esm/testing/index.js',
    'dist/cjs/redis/index.js',
    'dist/esm/redis/index.d.ts',
  ]) {
    if (!existsSync(path.join(root, file))) throw new Error(`${file} is missing: run \`npm run build\` first.`);
  }
  // Everything starts now, in parallel; each test awaits its own part. The catch only keeps a
  // failure from being reported as unhandled before the test that awaits it reports it.
  for (const start of Object.values(runs)) start().catch(() => {});
}, SLOW);

afterAll(async () => {
  // Every child process has ended (even those of tests filtered out with -t) before the folder goes.
  await Promise.allSettled(Object.values(runs).map((start) => start()));
  rmSync(work, { recursive: true, force: true });
}, SLOW);

/** What every consumer sees, built by `entry`. */
function expectedResult(entry: 'cjs' | 'esm'): Omit<Result, 'resolved' | 'builds'> {
  return {
    entry,
    count: {
      status: 201,
      entry,
      contentType: 'text/html; charset=utf-8',
      transferEncoding: 'chunked',
      first: '1 /count\n',
      rest: '2\n3\n',
    },
    made: { status: 202, contentType: 'application/json; charset=utf-8', body: '["made"]' },
    events: {
      status: 200,
      contentType: 'text/event-stream; charset=utf-8',
      body: 'event: tick\nid: 1\ndata: {"n":1}\n\ndata: bye\n\n',
    },
    rows: { status: 200, contentType: 'application/x-ndjson', body: '{"id":1}\n[2]\n' },
    topic: {
      status: 200,
      contentType: 'text/event-stream; charset=utf-8',
      data: '{"n":1}',
      hasId: true,
      ended: true,
    },
    // The redis entry point loads and runs without `redis` or `ioredis` installed: the user's client brings its library.
    redis: {
      redisStore: 'function',
      urlError: 'TypeError: redisStore(client) expects a Redis client',
      clientLibraries: [],
    },
    fails: {
      status: 200,
      received: 'partial',
      error: 'ResponseAbortedError',
      isAsyncStreamError: true,
      isKitClass: true,
    },
  };
}

describe('the tarball', () => {
  it('holds the two builds of the three entry points, their declarations and the ES module marker, and nothing else of the repository', async () => {
    const installed = path.join(await install(), 'node_modules', 'express-async-stream');
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.name).toBe('express-async-stream');
    for (const file of [
      'dist/cjs/index.js',
      'dist/cjs/testing/index.d.ts',
      'dist/esm/index.d.ts',
      'dist/esm/testing/index.js',
      'dist/cjs/redis/index.js',
      'dist/cjs/redis/index.d.ts',
      'dist/esm/redis/index.js',
      'dist/esm/redis/index.d.ts',
    ]) {
      expect(existsSync(path.join(installed, file))).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(installed, 'dist/esm/package.json'), 'utf8'))).toEqual({ type: 'module' });
    for (const absent of ['src', '__tests__', 'node_modules', 'tsconfig.json', 'examples', 'bench']) {
      expect(existsSync(path.join(installed, absent))).toBe(false);
    }
  });
});

describe.each([
  ['CommonJS: require()', 'cjs', runs.cjs],
  ['ES module: import', 'esm', runs.esm],
] as const)('%s of the installed package', (_title, entry, result) => {
  it(`resolves the three entry points to dist/${entry} inside node_modules`, async () => {
    expect((await result()).resolved).toEqual({
      root: `node_modules/express-async-stream/dist/${entry}/index.js`,
      testing: `node_modules/express-async-stream/dist/${entry}/testing/index.js`,
      redis: `node_modules/express-async-stream/dist/${entry}/redis/index.js`,
    });
  });

  it(entry === 'cjs' ? 'loads the CommonJS build only' : 'never loads the CommonJS build', async () => {
    expect((await result()).builds).toEqual(entry === 'cjs' ? ['node_modules/express-async-stream/dist/cjs'] : []);
  });

  it('streams, sends SSE, NDJSON and a topic, reports a cut stream (read with its own test kit), and loads the Redis store without a client library', async () => {
    const { resolved: _resolved, builds: _builds, ...seen } = await result();
    expect(seen).toEqual(expectedResult(entry));
  });
});

describe('TypeScript consumers of the installed package', () => {
  // tsc fails on any type error, and on any `@ts-expect-error` that is no longer an error, which
  // proves the declarations are real types and not `any`.
  it.each([
    ['consumer.cts, module nodenext (CommonJS)', runs.typesCjs, 'consumer.cts', 'cjs'],
    ['consumer.mts, module nodenext (ES module)', runs.typesEsm, 'consumer.mts', 'esm'],
    ['consumer-node10.ts, moduleResolution node10', runs.typesNode10, 'consumer-node10.ts', 'cjs'],
  ] as const)(
    'type-checks %s against the installed declarations of the three entry points',
    async (_title, check, consumer, build) => {
      const files = await check();
      const other = build === 'cjs' ? 'esm' : 'cjs';
      const fromPackage = files.filter((file) => file.startsWith('node_modules/express-async-stream/'));
      expect(files).toContain(consumer);
      expect(fromPackage).toEqual(
        expect.arrayContaining([
          `node_modules/express-async-stream/dist/${build}/index.d.ts`,
          `node_modules/express-async-stream/dist/${build}/testing/index.d.ts`,
          `node_modules/express-async-stream/dist/${build}/redis/index.d.ts`,
        ]),
      );
      expect(fromPackage.filter((file) => file.includes(`/dist/${other}/`))).toEqual([]);
    },
  );

  it.each([
    ['CommonJS', 'cjs', runs.tsCjs, 'out/consumer.cjs', /require\("express-async-stream\/testing"\)/],
    ['ES module', 'esm', runs.tsEsm, 'out/consumer.mjs', /from 'express-async-stream\/testing'/],
  ] as const)(
    'runs the compiled %s consumer with the same results',
    async (_title, entry, result, output, importLine) => {
      const { builds, ...seen } = await result();
      expect(readFileSync(path.join(project, output), 'utf8')).toMatch(importLine);
      expect(builds).toEqual(entry === 'cjs' ? ['node_modules/express-async-stream/dist/cjs'] : []);
      expect(seen).toEqual(expectedResult(entry));
    },
  );
});

describe('package linters, on the tarball', () => {
  it('publint reports nothing, not even a suggestion', async () => {
    const { stdout, stderr, code } = await runs.publint();
    expect({ code, stderr: stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('All good!');
  });

  it('arethetypeswrong finds no problem in any resolution mode', async () => {
    const { code, report } = await runs.attw();
    expect(report.analysis.problems).toEqual([]);
    expect(code).toBe(0);
  });

  it('checks the three entry points (and ./package.json)', async () => {
    expect(Object.keys((await runs.attw()).report.analysis.entrypoints).sort()).toEqual([
      '.',
      './package.json',
      './redis',
      './testing',
    ]);
  });

  it.each([
    ['.', 'index.d.ts'],
    ['./testing', 'testing/index.d.ts'],
    ['./redis', 'redis/index.d.ts'],
  ])('arethetypeswrong resolves %s to the declarations of the matching build', async (subpath, declarations) => {
    const { resolutions } = (await runs.attw()).report.analysis.entrypoints[subpath]!;
    const resolved = Object.fromEntries(
      Object.entries(resolutions).map(([mode, { resolution }]) => [
        mode,
        resolution?.fileName.replace('/node_modules/express-async-stream/', ''),
      ]),
    );
    expect(resolved).toEqual({
      node10: `dist/cjs/${declarations}`,
      'node16-cjs': `dist/cjs/${declarations}`,
      'node16-esm': `dist/esm/${declarations}`,
      bundler: `dist/esm/${declarations}`,
    });
  });
});
