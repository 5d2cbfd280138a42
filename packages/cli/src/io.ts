/** Where a run of the CLI reads and writes. `main` takes one so tests can capture output. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
