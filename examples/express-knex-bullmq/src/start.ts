// `pnpm start`: the API and the worker as two processes, as they would be deployed.
import { spawn } from 'node:child_process';

const children = ['src/api.ts', 'src/worker.ts'].map((entry) =>
  spawn(process.execPath, ['--import', 'tsx', entry], { stdio: 'inherit' }),
);
for (const child of children) {
  child.on('exit', (code) => {
    for (const other of children) other.kill('SIGTERM'); // one stopped: stop the other too
    process.exitCode = code ?? 0;
  });
}
