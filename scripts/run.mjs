#!/usr/bin/env node
// The two-command start: `npm test` and `npm run demo` work on a fresh clone with only Node 20
// and npm. This script finds (or installs, into .tools/) pnpm 12.18.0, installs the workspace
// when needed, builds, and runs the task.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '12.18.0';
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };

function log(message) {
  process.stderr.write(`\x1b[2m[threadline] ${message}\x1b[0m\n`);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function pnpmWorks(bin) {
  try {
    return (
      execFileSync(bin, ['--version'], {
        encoding: 'utf8',
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() === PNPM_VERSION
    );
  } catch {
    return false;
  }
}

function findPnpm() {
  if (pnpmWorks('pnpm')) return 'pnpm';
  const local = join(ROOT, '.tools', 'node_modules', '.bin', 'pnpm');
  if (existsSync(local) && pnpmWorks(local)) return local;
  log(`installing pnpm ${PNPM_VERSION} into .tools/ (one time)`);
  mkdirSync(join(ROOT, '.tools'), { recursive: true });
  writeFileSync(join(ROOT, '.tools', 'package.json'), '{ "private": true }\n');
  run('npm', [
    'install',
    '--prefix',
    join(ROOT, '.tools'),
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    `pnpm@${PNPM_VERSION}`,
  ]);
  if (!pnpmWorks(local)) {
    console.error('Could not install pnpm. Install it yourself: npm i -g pnpm@' + PNPM_VERSION);
    process.exit(1);
  }
  return local;
}

function ensureInstalled(pnpm) {
  const marker = join(ROOT, 'node_modules', '.modules.yaml');
  const lock = join(ROOT, 'pnpm-lock.yaml');
  const stampFile = join(ROOT, 'node_modules', '.threadline-install-stamp');
  const wanted = existsSync(lock)
    ? String(statSync(lock).mtimeMs) + ':' + readFileSync(lock, 'utf8').length
    : 'none';
  if (existsSync(marker) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted) return;
  log('installing dependencies (pnpm install)');
  run(pnpm, ['install', '--frozen-lockfile'], { env: { ...env, CI: 'true' } });
  writeFileSync(stampFile, wanted);
}

const [task = 'test', ...rest] = process.argv.slice(2);
const pnpm = findPnpm();
// turbo and package scripts look pnpm up on PATH: put a pnpm installed into .tools/ there.
if (pnpm !== 'pnpm')
  env.PATH = `${dirname(pnpm)}${process.platform === 'win32' ? ';' : ':'}${env.PATH ?? ''}`;
ensureInstalled(pnpm);
const turbo = (args) => run(pnpm, ['exec', 'turbo', ...args]);

switch (task) {
  case 'build':
    turbo(['run', 'build', '--output-logs=errors-only']);
    break;
  case 'test':
    log('lint (biome)');
    run(pnpm, ['exec', 'biome', 'check', '.']);
    // knip.json: in every workspace (packages, examples, bench), every export is used by an entry
    // (a package's public entries, core's internal entry, a script, a test), another module or a
    // test, so nothing unused creeps back into a surface.
    log('unused exports in every workspace (knip)');
    run(pnpm, ['exec', 'knip']);
    log('build, typecheck and test every package');
    turbo(['run', 'build', '--output-logs=errors-only']);
    {
      // The typecheck (CPU only, no services) runs next to the tests, which share PostgreSQL and
      // Redis and so run one file at a time, mostly waiting on the server: on 2 cores the
      // typecheck then costs no wall time. Every package is built already.
      const typecheck = spawn(pnpm, ['-r', '--workspace-concurrency=1', 'run', 'typecheck'], {
        cwd: ROOT,
        stdio: 'inherit',
        env,
      });
      const typechecked = new Promise((resolve) => {
        typecheck.on('error', () => resolve(1));
        typecheck.on('exit', (code) => resolve(code ?? 1));
      });
      const tests = spawnSync(pnpm, ['exec', 'turbo', 'run', 'test', '--concurrency=1', ...rest], {
        cwd: ROOT,
        stdio: 'inherit',
        env,
      });
      const typecheckStatus = await typechecked;
      if (typecheckStatus !== 0) {
        console.error('typecheck failed (its errors are above)');
        process.exit(typecheckStatus);
      }
      if (tests.error) throw tests.error;
      if (tests.status !== 0) process.exit(tests.status ?? 1);
    }
    break;
  case 'load':
    // The heavy test files npm test leaves out (*.heavy.test.ts: PgBouncer variants, fault suites,
    // server restarts, throwaway clusters, replicas; tooling/build-preset.ts), then the load run
    // (SPEC §13): the example services under 10,000 requests through PgBouncer.
    turbo(['run', 'build', '--output-logs=errors-only']);
    turbo(['run', 'test:heavy', '--concurrency=1']);
    run(pnpm, ['--filter', '@threadline/example-all-services', 'run', 'load', ...rest]);
    break;
  case 'demo':
    turbo(['run', 'build', '--output-logs=errors-only']);
    run(pnpm, ['--filter', '@threadline/example-quickstart', 'run', 'demo', ...rest]);
    break;
  case 'bench':
    turbo(['run', 'build', '--output-logs=errors-only']);
    run(pnpm, ['--filter', '@threadline/bench', 'run', rest[0] ?? 'capture', ...rest.slice(1)]);
    break;
  default:
    console.error(`unknown task "${task}"; use test, load, demo, build or bench`);
    process.exit(2);
}
