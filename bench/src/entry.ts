/** What every benchmark's entry does around its own work: flags, failure reporting, cleanup. */
import { BenchDb, log } from './db.js';

/** Parse the flags: print the usage and exit 2 on a bad flag, print it and exit 0 for --help. */
export function parseOrExit<O>(parse: (argv: string[]) => O | 'help', usage: string): O {
  let options: O | 'help';
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return options;
}

/** Run `main`; on failure print the stack and exit 1. */
export async function runOrExit(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`\n[bench] FAILED: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  }
}

/**
 * Run `main` on a fresh benchmark database that is dropped at the end: on success, on failure
 * (exit 1) and on Ctrl-C or SIGTERM (exit 130). `beforeDrop` runs first (e.g. stop child processes).
 */
export async function runWithBenchDb(
  url: string,
  main: (db: BenchDb) => Promise<void>,
  beforeDrop: () => void = () => undefined,
): Promise<void> {
  const db = new BenchDb(url);
  let cleaning: Promise<void> | undefined;
  let stopping = false;
  const cleanup = (): Promise<void> => {
    beforeDrop();
    cleaning ??= db.drop().then(
      () => log(`dropped database ${db.name}`),
      (error: Error) => log(`could not drop database ${db.name}: ${error.message}; drop it by hand`),
    );
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await main(db);
    await cleanup();
  } catch (error) {
    if (stopping) await new Promise(() => undefined); // the signal handler drops the database and exits
    process.stderr.write(`\n[bench] FAILED: ${(error as Error).stack ?? error}\n`);
    await cleanup();
    process.exit(1);
  }
}
