import { createRequire } from 'node:module';
import { ThreadlineError } from '../errors.js';

/**
 * Several statements sent to node-postgres in one round trip: each as Parse/Bind/Describe/Execute
 * with bound parameters, then a single Sync. Outside an explicit transaction PostgreSQL runs them
 * as one implicit transaction (all or nothing), which is how an attributed autocommit write costs
 * one round trip instead of four (BEGIN, binding, write, COMMIT).
 *
 * Uses node-postgres' public custom-query interface (`client.query(submittable)`, the one
 * pg-cursor uses) and its Result class. Not available for native clients or clients in pg's own
 * pipeline mode; callers then fall back to one statement per round trip.
 */

export interface PipelineStatement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

export interface PipelineResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  command: string;
  fields: unknown[];
}

interface PgResultLike {
  _types?: unknown;
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): Record<string, unknown>;
  addRow(row: Record<string, unknown>): void;
  addCommandComplete(msg: unknown): void;
  rows: Record<string, unknown>[];
  rowCount: number | null;
  command: string;
  fields: unknown[];
}

interface PgInternals {
  Result: new (rowMode?: string, types?: unknown) => PgResultLike;
  prepareValue: (value: unknown) => unknown;
}

interface PgConnectionLike {
  parse(msg: { text: string; name: string }): void;
  bind(msg: {
    portal: string;
    statement: string;
    values: readonly unknown[];
    valueMapper: (v: unknown) => unknown;
  }): void;
  describe(msg: { type: 'P'; name: string }): void;
  execute(msg: { portal: string; rows: number }): void;
  sync(): void;
  sendCopyFail(message: string): void;
  stream: { cork?: () => void; uncork?: () => void };
}

interface PgClientLike {
  query(submittable: unknown): unknown;
  connection?: Partial<PgConnectionLike>;
  pipeline?: boolean;
}

let internals: PgInternals | null | undefined;

function pgInternals(): PgInternals | null {
  if (internals !== undefined) return internals;
  try {
    const require = createRequire(import.meta.url);
    internals = {
      Result: require('pg/lib/result'),
      prepareValue: (require('pg/lib/utils') as { prepareValue: (v: unknown) => unknown }).prepareValue,
    };
  } catch {
    internals = null;
  }
  return internals;
}

/** True when `client` is a JavaScript node-postgres client that can take a pipelined submittable. */
export function canPipeline(client: unknown): client is PgClientLike {
  const c = client as PgClientLike | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.query === 'function' &&
    typeof c.connection?.parse === 'function' &&
    typeof c.connection?.sync === 'function' &&
    c.pipeline !== true &&
    pgInternals() !== null
  );
}

class PipelinedQuery {
  /** node-postgres fills in its type parsers here before submitting. */
  readonly _result: PgResultLike;
  callback: ((error: unknown, results?: PipelineResult[]) => void) | undefined;
  private readonly results: PipelineResult[] = [];
  private current: PgResultLike | null = null;
  private parseError: unknown;

  constructor(
    private readonly statements: readonly PipelineStatement[],
    private readonly pg: PgInternals,
  ) {
    this._result = new pg.Result();
  }

  submit(connection: PgConnectionLike): null {
    connection.stream.cork?.();
    try {
      for (const s of this.statements) {
        connection.parse({ text: s.sql, name: '' });
        connection.bind({
          portal: '',
          statement: '',
          values: s.params ?? [],
          valueMapper: this.pg.prepareValue,
        });
        connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  private result(): PgResultLike {
    this.current ??= new this.pg.Result(undefined, this._result._types);
    return this.current;
  }

  handleRowDescription(msg: { fields: unknown[] }): void {
    this.result().addFields(msg.fields);
  }

  handleDataRow(msg: { fields: unknown[] }): void {
    if (this.parseError) return;
    try {
      const r = this.result();
      r.addRow(r.parseRow(msg.fields));
    } catch (error) {
      this.parseError = error;
    }
  }

  handleCommandComplete(msg: unknown): void {
    const r = this.result();
    r.addCommandComplete(msg);
    // node-postgres' own Result object, so an ORM that reads more of it (oid, rowAsArray) can.
    this.results.push(r);
    this.current = null;
  }

  handleEmptyQuery(): void {
    this.results.push(this.result());
    this.current = null;
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: PgConnectionLike): void {
    connection.sendCopyFail('COPY is not supported in a pipelined statement');
  }

  handleCopyData(): void {}

  handleError(error: unknown): void {
    this.finish(error);
  }

  handleReadyForQuery(): void {
    this.finish(this.parseError ?? null, this.results);
  }

  private finish(error: unknown, results?: PipelineResult[]): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(error, results);
  }
}

/** Run `statements` in one round trip on a node-postgres client; resolves with one result per statement. */
export function pipelineQuery(
  client: PgClientLike,
  statements: readonly PipelineStatement[],
): Promise<PipelineResult[]> {
  const pg = pgInternals();
  if (!pg) {
    return Promise.reject(
      new ThreadlineError(
        'UNSUPPORTED_CLIENT',
        'pipelineQuery: node-postgres internals (pg/lib/result) cannot be loaded, so statements cannot be pipelined; install pg 8.11 or later next to @threadline/core',
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const query = new PipelinedQuery(statements, pg);
    query.callback = (error, results) => (error ? reject(error) : resolve(results ?? []));
    client.query(query);
  });
}
