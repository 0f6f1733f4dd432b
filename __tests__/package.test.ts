// What a consumer of the published package gets: the built dist/ loaded by name through the
// package.json `exports` map, in child processes (run from the repository root, so that Node's and
// TypeScript's self-reference resolve 'express-async-stream' to this package). `npm test` builds
// first; on its own: `npm run build && npx jest __tests__/package.test.ts`.
// The scripts and the TypeScript consumers are in __tests__/fixtures/package/.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// A type check of a fixture takes about 10 s on a quiet 2-core machine, and several run at once: each
// child gets 60 s (a margin of more than 4x), and jest more, so that the child's message reports a hang.
const CHILD_TIMEOUT = 60_000;
jest.setTimeout(90_000);

const root = path.resolve(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures', 'package');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;

const PUBLIC_EXPORTS = {
  AsyncStreamError: 'class',
  DEFAULT_TIMEOUT: 'number',
  ServerShutdownError: 'class',
  StreamResponse: 'class',
  StreamTimeoutError: 'class',
  TIMEOUT_SETTING: 'string',
  asyncStream: 'function',
  closeStreams: 'function',
  createTopic: 'function',
  currentRequest: 'function',
  currentResponse: 'function',
  currentSignal: 'function',
  encodeEvent: 'function',
  isAsyncStreamError: 'function',
  isStreamResponse: 'function',
  lastEventId: 'function',
  makeResponse: 'function',
  memoryStore: 'function',
  ndjson: 'function',
  sse: 'function',
  withContext: 'function',
};

const REDIS_EXPORTS = { redisStore: 'function' };

const TESTING_EXPORTS = {
  DEFAULT_RECEIVE_TIMEOUT: 'number',
  ReceiveTimeoutError: 'class',
  ResponseAbortedError: 'class',
  StreamConnection: 'class',
  streamRequest: 'function',
};

/** Node code that prints the kinds of the names `mod` exports, as one JSON line. */
const describeExports =
  "const kinds = Object.fromEntries(Object.entries(mod).map(([name, value]) => [name, typeof value === 'function' && /^class\\b/.test(Function.prototype.toString.call(value)) ? 'class' : typeof value])); console.log(JSON.stringify(kinds));";
const INTERNAL_NAMES = [
  'pump',
  'createStreamHandler',
  'trackStream',
  'resolveOptions',
  'StreamSession',
  'resolveBody',
  'discardBody',
  'runInContext',
  'getContext',
  'RequestContext',
  'toStreamResponse',
  'resolveTimeout',
  'IdleTimer',
  'default',
];

/** Runs `file args` from the repository root; rejects with its output when it fails. */
function run(file: string, args: readonly string[], options: { shell?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: root, timeout: CHILD_TIMEOUT, maxBuffer: 32 * 1024 * 1024, shell: options.shell ?? false },
      (error, stdout, stderr) => {
        if (error) {
          const killed = error.killed ? ` (killed after ${CHILD_TIMEOUT / 1000} s)` : '';
          reject(new Error(`${[file, ...args].join(' ')} failed${killed}: ${error.message}\n${stdout}\n${stderr}`));
        } else resolve(stdout);
      },
    );
  });
}

/** Runs a fixture script with this Node and parses the JSON line it prints. */
async function runScript<T>(name: string): Promise<T> {
  const stdout = await run(process.execPath, [path.join(fixtures, name)]);
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${name} printed no JSON result:\n${stdout}`);
  }
}

/** Type-checks a fixture project with the repository's TypeScript; resolves with the files it read. */
async function typeCheck(project: string): Promise<string[]> {
  const stdout = await run(process.execPath, [
    tsc,
    '-p',
    path.join(fixtures, project),
    '--listFiles',
    '--pretty',
    'false',
  ]);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((file) => path.relative(root, file.trim()).split(path.sep).join('/'));
}

/** `npm pack --dry-run`: the files the published tarball would hold. */
async function packedFiles(): Promise<string[]> {
  // --ignore-scripts: `prepack` would rebuild (rm -rf) dist/ under the other tests' feet.
  const args = ['pack', '--dry-run', '--json', '--ignore-scripts'];
  const npmCli = process.env.npm_execpath;
  const stdout =
    npmCli !== undefined && /\.c?js$/.test(npmCli)
      ? await run(process.execPath, [npmCli, ...args])
      : await run('npm', args, { shell: process.platform === 'win32' });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  return pack.files.map((file) => file.path).sort();
}

/** Starts `start` once, when first asked; every child process is started in beforeAll, in parallel. */
function lazily<T>(start: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= start());
}

interface RedisEntryResult {
  resolved: string;
  exports: Record<string, string>;
  loaded: string[];
}

interface HttpResult {
  status: number;
  contentType?: string;
  transferEncoding?: string;
  contentLength?: string;
  entry?: string;
  body: string;
}

interface ProbeResult {
  entry: 'cjs' | 'esm';
  resolved: string;
  packageJson: string;
  exports: Record<string, string>;
  blocked: Record<string, string>;
  cjsFilesLoaded: string[];
  distFilesLoaded: string[];
  responses: Record<'count' | 'made' | 'json' | 'silent', HttpResult>;
}

type Seen = Record<string, string | boolean>;

interface SharedResult {
  distinctBuilds: boolean;
  outsideContext: Seen;
  outsideAfterResponses: Seen;
  context: Record<string, { status: number; seen: Seen }>;
  later: Record<string, Seen>;
  responses: Record<string, { status: number; madeBy: string; body: string }>;
  timeouts: Record<
    string,
    { status: number; isAsyncStreamError: boolean; instanceofOwnClass: boolean; instanceofOtherClass: boolean }
  >;
  brands: Record<string, boolean>;
}

const runs = {
  cjs: lazily(() => runScript<ProbeResult>('entry.cjs')),
  esm: lazily(() => runScript<ProbeResult>('entry.mjs')),
  shared: lazily(() => runScript<SharedResult>('shared.mjs')),
  redisCjs: lazily(() => runScript<RedisEntryResult>('redisEntry.cjs')),
  redisEsm: lazily(() => runScript<RedisEntryResult>('redisEntry.mjs')),
  typesCjs: lazily(() => typeCheck('tsconfig.cjs.json')),
  typesEsm: lazily(() => typeCheck('tsconfig.esm.json')),
  pack: lazily(packedFiles),
};

beforeAll(() => {
  for (const file of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.js', 'dist/esm/index.d.ts']) {
    if (!existsSync(path.join(root, file))) throw new Error(`${file} is missing: run \`npm run build\` first.`);
  }
  // Each test awaits its own run; this only keeps a failure from being reported as unhandled first.
  for (const start of Object.values(runs)) start().catch(() => {});
});

describe.each([
  ['CommonJS: require()', 'cjs', runs.cjs],
  ['ES module: import', 'esm', runs.esm],
] as const)('%s of express-async-stream', (_title, entry, result) => {
  it(`resolves through the exports map to dist/${entry}/index.js`, async () => {
    const { resolved, packageJson: manifest } = await result();
    expect(resolved).toBe(`dist/${entry}/index.js`);
    expect(manifest).toBe('package.json');
  });

  it('exposes exactly the public names, each of the right kind', async () => {
    const { exports } = await result();
    expect(exports).toEqual(PUBLIC_EXPORTS);
    for (const name of INTERNAL_NAMES) expect(exports).not.toHaveProperty([name]);
  });

  it('does not let deep imports reach the internals', async () => {
    const { blocked } = await result();
    expect(blocked).toEqual({
      'express-async-stream/dist/cjs/pump.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'express-async-stream/dist/esm/pump.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it(`loads dist/${entry} only, and none of the Redis store's files`, async () => {
    const { distFilesLoaded } = await result();
    expect(distFilesLoaded).toContain(`dist/${entry}/index.js`);
    expect(distFilesLoaded).toContain(`dist/${entry}/topics/topic.js`);
    expect(distFilesLoaded.filter((file) => !file.startsWith(`dist/${entry}/`))).toEqual([]);
    expect(distFilesLoaded.filter((file) => file.startsWith(`dist/${entry}/redis/`))).toEqual([]);
  });

  if (entry === 'esm') {
    it('loads the ES module build only, not the CommonJS one', async () => {
      expect((await result()).cjsFilesLoaded).toEqual([]);
    });
  } else {
    it('loads the CommonJS build', async () => {
      expect((await result()).cjsFilesLoaded).toContain('dist/cjs/index.js');
    });
  }

  it('streams a generator from a tuple end to end, reading currentRequest()', async () => {
    const { count } = (await result()).responses;
    expect(count).toMatchObject({ status: 201, transferEncoding: 'chunked', entry, body: '1\n2\n3\n' });
    expect(count.contentLength).toBeUndefined();
  });

  it('streams a makeResponse() body with its timeout switched off', async () => {
    const { made } = (await result()).responses;
    expect(made).toEqual({
      status: 202,
      contentType: 'text/plain; charset=utf-8',
      transferEncoding: 'chunked',
      entry,
      body: 'made by makeResponse',
    });
  });

  it('sends a JSON body whole', async () => {
    const { json } = (await result()).responses;
    expect(json).toMatchObject({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ entry }),
    });
    expect(json.contentLength).toBe(String(Buffer.byteLength(json.body)));
  });

  it('ends a silent stream with its own StreamTimeoutError at next(err)', async () => {
    const { silent } = (await result()).responses;
    expect(silent.status).toBe(503);
    expect(JSON.parse(silent.body)).toEqual({
      name: 'StreamTimeoutError',
      isAsyncStreamError: true,
      isStreamTimeoutError: true,
      timeout: 25,
    });
  });
});

describe('both builds loaded in one process (import and require)', () => {
  const directions = ['esm-in-cjs', 'cjs-in-esm'] as const;

  it('really loads two builds', async () => {
    expect((await runs.shared()).distinctBuilds).toBe(true);
  });

  it('has no request context outside a handler, before and after the requests (control)', async () => {
    const { outsideContext, outsideAfterResponses } = await runs.shared();
    for (const seen of [outsideContext, outsideAfterResponses]) {
      expect(seen).toEqual({
        esm: expect.stringMatching(/^throws: currentRequest\(\) was called outside/),
        cjs: expect.stringMatching(/^throws: currentRequest\(\) was called outside/),
      });
    }
  });

  it.each(directions)(
    'share the request context: a generator wrapped by one build, streamed by the other (%s)',
    async (direction) => {
      const { context } = await runs.shared();
      expect(context[direction]).toEqual({
        status: 200,
        seen: {
          esm: `${direction}-id`,
          cjs: `${direction}-id`,
          sameRequest: true,
          sameResponse: true,
          sameSignal: true,
        },
      });
    },
  );

  it.each(directions)(
    "withContext() of one build keeps the other build's context for later iteration (%s)",
    async (direction) => {
      const { later } = await runs.shared();
      expect(later[direction]).toEqual({
        esm: `${direction}-id`,
        cjs: `${direction}-id`,
        sameRequest: true,
        sameResponse: true,
        sameSignal: true,
      });
    },
  );

  it.each(directions)("asyncStream() of one build sends the other build's makeResponse() (%s)", async (direction) => {
    const maker = direction.slice(0, 3);
    const { responses } = await runs.shared();
    expect(responses[direction]).toEqual({ status: 202, madeBy: maker, body: `made by ${maker}` });
  });

  it.each(['cjs-checked-by-esm', 'esm-checked-by-cjs'])(
    "isAsyncStreamError() of one build recognises the other build's StreamTimeoutError (%s)",
    async (route) => {
      const { timeouts } = await runs.shared();
      // instanceof fails across builds (two class objects): that is what the brand is for.
      expect(timeouts[route]).toEqual({
        status: 503,
        isAsyncStreamError: true,
        instanceofOwnClass: true,
        instanceofOtherClass: false,
      });
    },
  );

  it("recognises each other's errors and responses, and nothing else", async () => {
    expect((await runs.shared()).brands).toEqual({
      esmResponseIsCjsResponse: true,
      cjsResponseIsEsmResponse: true,
      esmErrorIsCjsError: true,
      cjsErrorIsEsmError: true,
      plainErrorIsNot: false,
      plainObjectIsNot: false,
    });
  });
});

describe('type declarations', () => {
  it('checks the same consumer code as CommonJS and as an ES module', () => {
    const read = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');
    expect(read('consumer.cts')).toBe(read('consumer.mts'));
  });

  // tsc fails on any type error, and on any `@ts-expect-error` line that is no longer an error.
  it.each([
    ['consumer.cts (CommonJS)', 'cjs', runs.typesCjs, 'consumer.cts'],
    ['consumer.mts (ES module)', 'esm', runs.typesEsm, 'consumer.mts'],
  ] as const)(
    'type-check %s against dist/%s/index.d.ts and redis/index.d.ts, module nodenext',
    async (_title, build, check, consumer) => {
      const files = await check();
      const other = build === 'cjs' ? 'esm' : 'cjs';
      expect(files).toContain(`__tests__/fixtures/package/${consumer}`);
      expect(files).toContain(`dist/${build}/index.d.ts`);
      expect(files).toContain(`dist/${build}/redis/index.d.ts`);
      expect(files.filter((file) => file.startsWith(`dist/${other}/`))).toEqual([]);
      expect(files.filter((file) => file.startsWith('src/'))).toEqual([]);
    },
  );
  it('ships no internal declaration: no @internal member, and constructors that only the package calls are private', () => {
    const declarations = ['cjs', 'esm'].flatMap((build) =>
      readdirSync(path.join(root, 'dist', build), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.d.ts'))
        .map((file) => readFileSync(path.join(root, 'dist', build, file), 'utf8')),
    );
    expect(declarations.length).toBeGreaterThan(20);
    expect(declarations.filter((text) => text.includes('@internal'))).toEqual([]);
    const classOf = (name: string) => declarations.find((text) => text.includes(`export declare class ${name} `))!;
    expect(classOf('StreamResponse')).toContain('private constructor();');
    expect(classOf('StreamConnection')).toContain('private constructor();');
  });
});

describe('package.json', () => {
  it('publishes dist only, has no side effects, needs Node 20', () => {
    expect(packageJson.files).toEqual(['dist']);
    expect(packageJson.sideEffects).toBe(false);
    expect(packageJson.engines).toEqual({ node: '>=20' });
  });

  it('builds before packing, and runs no script where it is installed (npm 11 warns every consumer of one)', () => {
    const scripts = packageJson.scripts as Record<string, string>;
    expect(scripts.prepack).toBe('npm run build');
    expect(Object.keys(scripts).filter((name) => /^(preinstall|install|postinstall|prepare)$/.test(name))).toEqual([]);
  });

  it('has no runtime dependencies; Express is a peer', () => {
    expect(packageJson.dependencies ?? {}).toEqual({});
    expect(packageJson.peerDependencies).toMatchObject({ express: '^4.17 || ^5' });
  });

  it('maps import and require to the two builds, with their types', () => {
    expect(packageJson.exports).toEqual({
      '.': {
        import: { types: './dist/esm/index.d.ts', default: './dist/esm/index.js' },
        require: { types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' },
      },
      './testing': {
        import: { types: './dist/esm/testing/index.d.ts', default: './dist/esm/testing/index.js' },
        require: { types: './dist/cjs/testing/index.d.ts', default: './dist/cjs/testing/index.js' },
      },
      './redis': {
        import: { types: './dist/esm/redis/index.d.ts', default: './dist/esm/redis/index.js' },
        require: { types: './dist/cjs/redis/index.d.ts', default: './dist/cjs/redis/index.js' },
      },
      './package.json': './package.json',
    });
  });

  it('maps each subpath to its declarations for TypeScript resolutions that ignore exports (typesVersions)', () => {
    expect(packageJson.typesVersions).toEqual({
      '*': { testing: ['./dist/cjs/testing/index.d.ts'], redis: ['./dist/cjs/redis/index.d.ts'] },
    });
  });

  it('needs neither Redis client library: both are optional peers, for express-async-stream/redis only', () => {
    expect(packageJson.peerDependencies).toMatchObject({ redis: '^4.6 || ^5', ioredis: '^5' });
    expect(packageJson.peerDependenciesMeta).toMatchObject({ redis: { optional: true }, ioredis: { optional: true } });
  });

  it('lists "types" first in every condition of the exports map', () => {
    const misplaced: string[] = [];
    const visit = (value: unknown, where: string): void => {
      if (typeof value !== 'object' || value === null) return;
      const keys = Object.keys(value);
      if (keys.includes('types') && keys[0] !== 'types') misplaced.push(`${where}: ${keys.join(', ')}`);
      for (const key of keys) visit((value as Record<string, unknown>)[key], `${where}.${key}`);
    };
    visit(packageJson.exports, 'exports');
    expect(misplaced).toEqual([]);
  });

  it('points every entry field at a built file', () => {
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value);
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
    };
    collect([packageJson.main, packageJson.module, packageJson.types, packageJson.exports]);
    expect(targets.filter((target) => !existsSync(path.join(root, target)))).toEqual([]);
  });

  it('marks dist/esm as ES modules while the package stays CommonJS', () => {
    expect(packageJson.type ?? 'commonjs').toBe('commonjs');
    expect(JSON.parse(readFileSync(path.join(root, 'dist/esm/package.json'), 'utf8'))).toEqual({ type: 'module' });
  });

  it('packs both builds, their declarations and the ES module marker, and no sources', async () => {
    const files = await runs.pack();
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/esm/index.js',
        'dist/esm/index.d.ts',
        'dist/esm/package.json',
        'package.json',
      ]),
    );
    expect(
      files.filter(
        (file) => !/^dist\/(cjs|esm)\//.test(file) && !/^(package\.json|README\.md|LICENSE(\.md)?)$/.test(file),
      ),
    ).toEqual([]);
    // Every module of each build ships with its declaration.
    const modules = files.filter((file) => file.endsWith('.js'));
    expect(modules.filter((file) => !files.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });
});

describe('the ./testing entry point', () => {
  it('exposes the test kit to require()', async () => {
    const stdout = await run(process.execPath, [
      '-e',
      `const mod = require('express-async-stream/testing'); ${describeExports}`,
    ]);
    expect(JSON.parse(stdout)).toEqual(TESTING_EXPORTS);
  });

  it('exposes the test kit to import', async () => {
    const stdout = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `import * as mod from 'express-async-stream/testing'; ${describeExports}`,
    ]);
    expect(JSON.parse(stdout)).toEqual(TESTING_EXPORTS);
  });
});

describe.each([
  ['CommonJS: require()', 'cjs', runs.redisCjs],
  ['ES module: import', 'esm', runs.redisEsm],
] as const)('the ./redis entry point, %s', (_title, build, result) => {
  it(`resolves to dist/${build}/redis/index.js and exposes redisStore only`, async () => {
    const { resolved, exports } = await result();
    expect(resolved).toBe(`dist/${build}/redis/index.js`);
    expect(exports).toEqual(REDIS_EXPORTS);
  });

  it('loads files of its own build only, and nothing from node_modules: no Redis client library', async () => {
    const { loaded } = await result();
    expect(loaded).toContain(`dist/${build}/redis/redisStore.js`);
    expect(loaded.filter((file) => !file.startsWith(`dist/${build}/`))).toEqual([]);
  });
});
