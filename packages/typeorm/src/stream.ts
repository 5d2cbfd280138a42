import { runAttributedStatement } from '@threadline/core/adapter';

/** What pg-query-stream (the stream TypeORM's PostgresQueryRunner.stream returns) offers. */
export interface RowStream {
  push(chunk: unknown, encoding?: string): boolean;
  destroy(error?: Error): unknown;
  once(event: 'close' | 'error', listener: (error?: unknown) => void): unknown;
}

/** The stream transaction a runner has open: its rows and the promise of its COMMIT. */
const openStreams = new WeakMap<object, { rows?: RowStream; over: Promise<void> }>();

/**
 * Called by queryRunner.release() before the connection goes back to the pool: a stream whose
 * consumer stopped early (`for await (const r of s) break; await qr.release()`) is still closing,
 * and its COMMIT has not run. Close it (a consumer that never read to the end is done with it) and
 * wait for the COMMIT, so what ran is kept as plain TypeORM (autocommit) keeps it and the
 * connection never goes back mid-transaction.
 */
export async function settleStream(handle: object): Promise<void> {
  const open = openStreams.get(handle);
  if (!open) return;
  open.rows?.destroy();
  await open.over;
  openStreams.delete(handle);
}

/** The error Node gives a stream its async iterator destroyed on `break`/`return`. */
function stoppedByConsumer(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR';
}

type OnEvent = ((...args: unknown[]) => void) | undefined;
export type StreamFn = (
  sql: string,
  params: readonly unknown[] | undefined,
  onEnd: OnEvent,
  onError: OnEvent,
) => Promise<RowStream>;

/**
 * queryRunner.stream() outside a transaction, attributed by the same rule as every other
 * statement: when it needs the context, it runs between BEGIN + binding and COMMIT on the
 * runner's connection (a cursor cannot share a pipeline), holding the connection's turn until
 * then. The stream ends (and TypeORM's `onEnd`/`onError`, which release a query builder's runner,
 * run) only once that transaction is over, so the connection never goes back to the pool
 * mid-transaction and a reader that saw the end sees the rows committed.
 */
export function attributedStream(
  stream: StreamFn,
  connection: object,
  handle: object,
  run: (sql: string, params?: readonly unknown[]) => Promise<unknown>,
  sql: string,
  params: readonly unknown[] | undefined,
  onEnd: OnEvent,
  onError: OnEvent,
): Promise<RowStream> {
  let handOver: (rows: RowStream) => void = () => undefined;
  let refuse: (error: unknown) => void = () => undefined;
  const ready = new Promise<RowStream>((resolve, reject) => {
    handOver = resolve;
    refuse = reject;
  });
  const over = (): Promise<void> =>
    done.then(
      () => undefined,
      () => undefined,
    );
  const after = (fn: OnEvent): OnEvent => fn && ((...args) => void over().then(() => fn(...args)));
  const done: Promise<unknown> = runAttributedStatement({
    sql,
    connection,
    handle,
    pipelinable: false,
    send: () =>
      new Promise((finished, failed) => {
        stream(sql, params, after(onEnd), after(onError)).then((rows) => {
          const push = rows.push;
          rows.push = (chunk, encoding) => {
            if (chunk !== null) return push.call(rows, chunk, encoding);
            // The rows are all read: finish the statement's transaction, then end the stream.
            finished(undefined);
            done.then(
              () => push.call(rows, null),
              (error: unknown) => rows.destroy(error as Error),
            );
            return false;
          };
          // A consumer that stops early destroys the stream (`for await … break` with an
          // AbortError): what ran is committed, as plain TypeORM (autocommit) keeps it.
          rows.once('close', () => finished(undefined));
          rows.once('error', (error) => (stoppedByConsumer(error) ? finished(undefined) : failed(error)));
          const open = openStreams.get(handle);
          if (open) open.rows = rows;
          handOver(rows);
        }, failed);
      }),
    run,
  });
  openStreams.set(handle, { over: over() });
  done.catch(refuse);
  return ready;
}
