// `pnpm start`: every example service on one database, the worker invoicing through billing.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = (example: string) => fileURLToPath(new URL(`../../${example}`, import.meta.url));
const tsx = (entry: string) => ['--import', 'tsx', entry];
const services = [
  { cwd: dir('nestjs-typeorm'), args: ['dist/main.js'], env: { PORT: '3002' } },
  { cwd: dir('hono-pg'), args: tsx('src/server.ts'), env: { PORT: '3003' } },
  { cwd: dir('express-knex-bullmq'), args: tsx('src/api.ts'), env: { PORT: '3001' } },
  {
    cwd: dir('express-knex-bullmq'),
    args: tsx('src/worker.ts'),
    env: { BILLING_URL: 'http://127.0.0.1:3002' },
  },
];

const children = services.map(({ cwd, args, env }) =>
  spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: 'inherit' }),
);
for (const child of children) {
  child.on('exit', (code) => {
    for (const other of children) other.kill('SIGTERM'); // one stopped: stop them all
    process.exitCode = code ?? 0;
  });
}
