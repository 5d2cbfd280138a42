#!/usr/bin/env node
// Release rehearsal: publishes every public package to a throwaway local registry and installs
// them into a fresh project exactly as a user would, then proves they work there.
//
//   1. build the workspace; copy it (sources and builds) and run `changeset version` on the copy,
//      rebuild the CLI there (its build holds the version) and pack: what a release would publish;
//   2. publint --strict and @arethetypeswrong/cli on every tarball (any problem fails);
//   3. start Verdaccio on a free 127.0.0.1 port (temp config and storage, no uplink) and publish;
//   4. in a fresh npm project: `npm install` the @threadline packages from that registry (scoped
//      registry) and everything else from the normal npm registry;
//   5. run an ESM and a CommonJS app (express + knex + bullmq: one request, one job) against a
//      throwaway database on PostgreSQL and Redis, and check the attribution in the database;
//      `tsc --noEmit` of a TypeScript file under nodenext, bundler and node10 with skipLibCheck
//      off; `npx threadline --help`.
//
// Everything lives in one temp directory, removed at the end with the database, the Redis keys
// and the registry process, whether the run passed or not. Exits non-zero, naming the step.
// Environment: TL_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), TL_REDIS_URL
// (default redis://127.0.0.1:6379), --keep keeps the temp directory for debugging.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appSource, TYPES_CHECK } from './rehearsal/app-source.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every package that is not private: a new public package is rehearsed (and checked) too.
const PUBLIC = readdirSync(join(ROOT, 'packages'))
  .filter((dir) => existsSync(join(ROOT, 'packages', dir, 'package.json')))
  .filter((dir) => !JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')).private)
  .sort((a, b) => (a === 'core' ? -1 : b === 'core' ? 1 : a.localeCompare(b)));
const TOOLS = { verdaccio: '6.8.0', publint: '0.3.25', '@arethetypeswrong/cli': '0.18.5' };
// What a user installs next to Threadline, from the normal registry. TypeScript is pinned to the
// repository's version: TypeScript 7 dropped `moduleResolution: node10`, which this checks.
const USER_DEPS = [
  'express',
  'knex',
  'pg',
  'bullmq',
  'ioredis',
  'hono',
  'typeorm',
  '@nestjs/common',
  '@nestjs/core',
  'reflect-metadata',
  'rxjs',
];
const USER_DEV_DEPS = ['typescript@6.0.3', '@types/express', '@types/pg', '@types/node@20'];
const PG_URL = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'threadline-rehearsal-'));
const dbName = `tl_rehearsal_${randomBytes(4).toString('hex')}`;
const cleanups = [];
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', CI: 'true' };
delete env.npm_config_registry; // `npm run` sets it; the rehearsal picks its registries itself

class StepFailed extends Error {}

function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[rehearsal ${seconds}s] ${message}\n`);
}

/** Run a command; on failure print its output and stop the rehearsal naming the step. */
function run(step, cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error || result.status !== 0) {
    process.stderr.write(output);
    throw new StepFailed(
      `${step}: \`${cmd} ${args.join(' ')}\` ${result.error ? `failed to start (${result.error.message})` : `exited ${result.status}`}`,
    );
  }
  return output;
}

function findPnpm() {
  for (const bin of ['pnpm', join(ROOT, '.tools', 'node_modules', '.bin', 'pnpm')]) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore', env });
      return bin;
    } catch {}
  }
  throw new StepFailed('setup: pnpm not found; run `npm test` (it installs pnpm into .tools/) first');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The workspace's files as git knows them (tracked and new, not ignored): no node_modules, dist. */
function copyWorkspace(target) {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
  for (const file of files) {
    mkdirSync(dirname(join(target, file)), { recursive: true });
    cpSync(join(ROOT, file), join(target, file));
  }
}

async function startRegistry(tools) {
  const port = await freePort();
  const dir = join(work, 'registry');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  // No uplinks: the fresh project reads only @threadline/* from here (scoped registry).
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 10',
      'uplinks: {}',
      'packages:',
      "  '@threadline/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawn(
    join(tools, 'node_modules', '.bin', 'verdaccio'),
    ['--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: false },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/-/ping`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  if (
    child.exitCode !== null ||
    !(await fetch(`${url}/-/ping`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    process.stderr.write(output);
    throw new StepFailed(`registry: Verdaccio did not start on ${url}`);
  }
  // A user for publishing (Verdaccio's CouchDB-style user endpoint answers with a token).
  const name = 'rehearsal';
  const response = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: randomBytes(12).toString('hex') }),
  });
  const body = await response.json();
  if (!response.ok || !body.token)
    throw new StepFailed(`registry: could not add a user (${JSON.stringify(body)})`);
  return { url, port, token: body.token };
}

function checkTarball(tools, tarball) {
  const bin = (name) => join(tools, 'node_modules', '.bin', name);
  const publint = run(`publint ${tarball}`, bin('publint'), ['--strict', tarball], { cwd: tools });
  if (/Suggestions:|Warnings:|Errors:/.test(publint)) {
    process.stderr.write(publint);
    throw new StepFailed(`publint reported a problem in ${tarball}`);
  }
  // attw exits non-zero on any problem; --profile strict is its default (node10, node16, bundler).
  run(`attw ${tarball}`, bin('attw'), [tarball, '--format', 'ascii'], { cwd: tools });
}

async function withAdminDb(fn) {
  const { default: pg } = await import(
    join(ROOT, 'packages', 'core', 'node_modules', 'pg', 'lib', 'index.js')
  );
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function main() {
  const pnpm = findPnpm();
  // turbo and package scripts look pnpm up on PATH: put a pnpm installed into .tools/ there.
  if (pnpm !== 'pnpm')
    env.PATH = `${dirname(pnpm)}${process.platform === 'win32' ? ';' : ':'}${env.PATH ?? ''}`;
  log(`work directory ${work}`);

  log('installing the rehearsal tools (verdaccio, publint, attw) into the work directory');
  const tools = join(work, 'tools');
  mkdirSync(tools);
  writeJson(join(tools, 'package.json'), { private: true });
  run(
    'tools',
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...Object.entries(TOOLS).map(([n, v]) => `${n}@${v}`),
    ],
    { cwd: tools },
  );

  log('building the workspace');
  run('build', pnpm, ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);

  log('copying the workspace with its builds, running `changeset version` on the copy');
  const copy = join(work, 'repo');
  copyWorkspace(copy);
  for (const name of PUBLIC) {
    cpSync(join(ROOT, 'packages', name, 'dist'), join(copy, 'packages', name, 'dist'), { recursive: true });
  }
  run('install (copy)', pnpm, ['install', '--frozen-lockfile', '--prefer-offline'], { cwd: copy });
  const before = JSON.parse(readFileSync(join(copy, 'packages', 'core', 'package.json'), 'utf8')).version;
  run('changeset version', pnpm, ['exec', 'changeset', 'version'], { cwd: copy });
  const version = JSON.parse(readFileSync(join(copy, 'packages', 'core', 'package.json'), 'utf8')).version;
  for (const name of PUBLIC) {
    const v = JSON.parse(readFileSync(join(copy, 'packages', name, 'package.json'), 'utf8')).version;
    if (v !== version)
      throw new StepFailed(
        `changeset version: @threadline/${name} is ${v}, core is ${version} (they are versioned together)`,
      );
  }
  // Only the CLI's build holds its version (`threadline --version`); the others' builds do not
  // depend on package.json, so the workspace's builds are what a release would ship.
  log(`versioned ${before} -> ${version}; rebuilding @threadline/cli on the copy`);
  run('build cli (copy)', pnpm, ['exec', 'tsup'], { cwd: join(copy, 'packages', 'cli') });

  log('packing and checking every public package (publint --strict, attw)');
  const packs = join(work, 'packs');
  mkdirSync(packs);
  const tarballs = {};
  for (const name of PUBLIC) {
    run(`pack ${name}`, pnpm, ['pack', '--pack-destination', packs], { cwd: join(copy, 'packages', name) });
    tarballs[name] = join(packs, `threadline-${name}-${version}.tgz`);
    if (!existsSync(tarballs[name])) throw new StepFailed(`pack ${name}: ${tarballs[name]} was not written`);
    const listing = run(`list ${name}`, 'tar', ['-tzf', tarballs[name]]);
    for (const required of ['package/README.md', 'package/LICENSE', 'package/package.json']) {
      if (!listing.split('\n').includes(required))
        throw new StepFailed(`pack ${name}: the tarball has no ${required}`);
    }
    if (/\.map$/m.test(listing)) throw new StepFailed(`pack ${name}: the tarball ships source maps`);
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tarballs[name], 'package/package.json'], { encoding: 'utf8' }),
    );
    if (JSON.stringify(manifest).includes('workspace:'))
      throw new StepFailed(`pack ${name}: a workspace: range was published`);
    checkTarball(tools, tarballs[name]);
  }

  log('starting Verdaccio and publishing');
  const registry = await startRegistry(tools);
  const npmrcPublish = join(work, 'publish.npmrc');
  writeFileSync(
    npmrcPublish,
    `registry=${registry.url}/\n//127.0.0.1:${registry.port}/:_authToken=${registry.token}\n`,
  );
  for (const name of PUBLIC) {
    run(
      `publish ${name}`,
      'npm',
      [
        'publish',
        tarballs[name],
        '--registry',
        `${registry.url}/`,
        '--access',
        'public',
        '--userconfig',
        npmrcPublish,
        '--loglevel=error',
      ],
      { cwd: work },
    );
  }

  log('installing into a fresh project as a user would');
  const app = join(work, 'app');
  mkdirSync(app);
  writeJson(join(app, 'package.json'), { name: 'rehearsal-app', version: '1.0.0', private: true });
  writeFileSync(join(app, '.npmrc'), `@threadline:registry=${registry.url}/\n`);
  const threadline = PUBLIC.map((n) => `@threadline/${n}`);
  const npmInstall = ['install', '--no-audit', '--no-fund', '--loglevel=error'];
  run('npm install', 'npm', [...npmInstall, ...threadline, ...USER_DEPS], { cwd: app });
  run('npm install -D', 'npm', [...npmInstall, '-D', ...USER_DEV_DEPS], { cwd: app });
  const installed = JSON.parse(
    readFileSync(join(app, 'node_modules', '@threadline', 'core', 'package.json'), 'utf8'),
  );
  if (installed.version !== version)
    throw new StepFailed(`install: got @threadline/core ${installed.version}, published ${version}`);
  // What was installed is byte for byte the tarball that was packed and published.
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  for (const name of PUBLIC) {
    const integrity = lock.packages?.[`node_modules/@threadline/${name}`]?.integrity;
    const packed = `sha512-${createHash('sha512').update(readFileSync(tarballs[name])).digest('base64')}`;
    if (integrity !== packed) {
      throw new StepFailed(
        `install: @threadline/${name} has integrity ${integrity}, the published tarball ${packed}`,
      );
    }
  }

  log(`npx threadline --help`);
  const help = run('npx threadline --help', 'npx', ['--no-install', 'threadline', '--help'], { cwd: app });
  if (!/threadline/.test(help) || !/gen-triggers/.test(help))
    throw new StepFailed(`npx threadline --help printed:\n${help}`);
  const shown = run('npx threadline --version', 'npx', ['--no-install', 'threadline', '--version'], {
    cwd: app,
  }).trim();
  if (!shown.includes(version))
    throw new StepFailed(`npx threadline --version printed ${shown}, expected ${version}`);

  log('type checks: nodenext, bundler, node10 (skipLibCheck off)');
  writeFileSync(join(app, 'check.ts'), TYPES_CHECK);
  const base = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
    target: 'es2022',
    experimentalDecorators: true,
  };
  const configs = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    bundler: { module: 'esnext', moduleResolution: 'bundler' },
    node10: {
      module: 'commonjs',
      moduleResolution: 'node10',
      esModuleInterop: true,
      ignoreDeprecations: '6.0',
    },
  };
  for (const [name, options] of Object.entries(configs)) {
    writeJson(join(app, `tsconfig.${name}.json`), {
      compilerOptions: { ...base, ...options },
      files: ['check.ts'],
    });
    run(`tsc (${name})`, join(app, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${name}.json`], {
      cwd: app,
    });
  }

  log(`apps: creating database ${dbName}`);
  await withAdminDb((c) => c.query(`CREATE DATABASE ${dbName}`));
  cleanups.push(() => withAdminDb((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)));
  const databaseUrl = new URL(PG_URL);
  databaseUrl.pathname = `/${dbName}`;
  for (const format of ['esm', 'cjs']) {
    const file = join(app, format === 'esm' ? 'app.mjs' : 'app.cjs');
    writeFileSync(file, appSource(format));
    const out = run(`${format} app`, 'node', [file], {
      cwd: app,
      env: {
        ...env,
        DATABASE_URL: String(databaseUrl),
        REDIS_URL,
        QUEUE: `tl-rehearsal-${format}-${randomBytes(3).toString('hex')}`,
      },
    });
    if (!out.includes(`REHEARSAL ${format} OK`))
      throw new StepFailed(`${format} app did not report success:\n${out}`);
    log(`${format} app: request and job attributed`);
  }
}

async function cleanUp() {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`[rehearsal] cleanup: ${error.message}\n`);
    }
  }
  if (process.argv.includes('--keep')) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

// Interrupted (Ctrl-C, a CI timeout): stop the registry, drop the database, remove the files.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    process.stderr.write(`\n[rehearsal] ${signal}: cleaning up\n`);
    cleanUp().finally(() => process.exit(130));
  });
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(
    `\n[rehearsal] FAILED: ${error instanceof StepFailed ? error.message : (error?.stack ?? error)}\n`,
  );
} finally {
  await cleanUp();
}
log(failed ? 'release rehearsal FAILED' : 'release rehearsal passed');
process.exit(failed ? 1 : 0);
