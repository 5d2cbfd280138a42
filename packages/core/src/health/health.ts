import { formatTableName } from '../capture/identifiers.js';
import { tableKey } from '../capture/table-options.js';
import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';
import { parseConsistency } from '../db/read-routing.js';
import { ThreadlineError } from '../errors.js';
import { checkKeys } from '../query/validate.js';
import { TELEMETRY_CHANNELS, TELEMETRY_TRACING_CHANNELS } from '../telemetry/channels.js';
import { errorCode, publish, traced } from '../telemetry/publish.js';
import { analyzeCapture } from './analyze.js';
import { isBaselineUncovered } from './baseline-tables.js';
import { readCatalog } from './catalog.js';
import { type ResolvedHealthConfig, tableList } from './config.js';
import { type ReadReplicaStatus, readReplicaStatus } from './read-replica.js';
import { resolveSchemas } from './schemas.js';
import type {
  CoverageOptions,
  CoverageReport,
  Finding,
  FindingsOptions,
  SchemaCoverage,
  VerifyOptions,
  VerifyReport,
} from './types.js';

/**
 * `tl.health`: is every table captured as it should be? Read from the catalogs only, on readDb
 * when one is configured (a streaming replica's catalogs are the primary's, as of its replay
 * position; `{ consistency: 'primary' }` reads db, e.g. right after installing triggers).
 */
export class HealthChecks {
  constructor(
    private readonly ctx: OperationsContext,
    private readonly config: ResolvedHealthConfig,
  ) {}

  /** Covered, uncovered and expected-uncovered tables per schema, with the findings there. */
  coverage(options: CoverageOptions = {}): Promise<CoverageReport> {
    return this.check(
      'coverage',
      async () => {
        const what = 'health.coverage';
        options = checkKeys(options, ['schema', 'consistency'], `${what} options`) as CoverageOptions;
        const consistency = parseConsistency(options.consistency, what);
        const ctx = this.ctx.forRead(consistency);
        const schemas = await this.prepare(ctx, options.schema, () => this.defaultSchemas(ctx, what), what);
        const report = await this.coverageOf(ctx, schemas, what);
        if (consistency === 'replica' && this.ctx.routing.separate)
          report.readReplica = await readReplicaStatus(this.ctx.routing, what);
        publish(TELEMETRY_CHANNELS.healthChecked, () => ({
          schemas: report.schemas.length,
          ...counts(report),
        }));
        return report;
      },
      (r) => ({ schemas: r.schemas.length, ...counts(r), findings: r.findings.length }),
    );
  }

  /** Everything wrong with capture (disabled, missing, duplicate, foreign, stale, key drift...). */
  findings(options: FindingsOptions = {}): Promise<Finding[]> {
    return this.check(
      'findings',
      async () => {
        const started = performance.now();
        options = checkKeys(options, ['schema', 'consistency'], 'health.findings options') as FindingsOptions;
        const ctx = this.ctx.forRead(parseConsistency(options.consistency, 'health.findings'));
        const schemas = await this.prepare(ctx, options.schema, async () => null, 'health.findings');
        const snapshot = await readCatalog(ctx, schemas, 'health.findings');
        const { findings } = analyzeCapture(snapshot, this.ctx.schema);
        publish(TELEMETRY_CHANNELS.findingsChecked, () => findingCounts(findings, started));
        return findings;
      },
      (f) => ({ findings: f.length }),
    );
  }

  /**
   * The CI gate: ok when every expected table exists, is covered and has no error finding.
   * Other uncovered tables are reported in `findings` only when something is wrong with them.
   */
  verify(options: VerifyOptions): Promise<VerifyReport> {
    return this.check(
      'verify',
      async () => {
        const what = 'health.verify';
        if (typeof options !== 'object' || options === null)
          throw new ThreadlineError('QUERY_INVALID', `${what}: pass { expectedTables: ["posts"] }`);
        options = checkKeys(
          options,
          ['expectedTables', 'consistency'],
          `${what} options`,
        ) as unknown as VerifyOptions;
        const expected = tableList(options.expectedTables, `${what}: expectedTables`);
        if (expected.length === 0)
          throw new ThreadlineError('QUERY_INVALID', `${what}: expectedTables must list at least one table`);
        const ctx = this.ctx.forRead(parseConsistency(options.consistency, what));
        await ctx.assertInstalled(what);
        const schemas = [...new Set(expected.map((t) => t.schema))];
        const report = await this.coverageOf(ctx, schemas, what, true);
        const bySchema = new Map(report.schemas.map((s) => [s.schema, s]));
        const tables = expected.map((t) => {
          const s = bySchema.get(t.schema);
          const status: VerifyReport['tables'][number]['status'] = s?.covered.includes(t.name)
            ? 'covered'
            : s?.uncovered.includes(t.name) || s?.expectedUncovered.some((e) => e.table === t.name)
              ? 'uncovered'
              : 'missing';
          const errors = report.findings
            .filter((f) => f.severity === 'error' && f.schema === t.schema && f.table === t.name)
            .map((f) => f.code);
          return { table: formatTableName(t), status, errors: [...new Set(errors)] };
        });
        const ok = tables.every((t) => t.status === 'covered' && t.errors.length === 0);
        const result: VerifyReport = { ok, tables, findings: report.findings };
        publish(TELEMETRY_CHANNELS.coverageVerified, () => ({
          ok,
          expected: tables.length,
          covered: tables.filter((t) => t.status === 'covered').length,
          violated: tables.filter((t) => t.status !== 'covered' || t.errors.length > 0).length,
        }));
        return result;
      },
      (r) => ({ ok: r.ok, expected: r.tables.length }),
    );
  }

  private async check<T>(check: string, fn: () => Promise<T>, summary: (r: T) => Record<string, unknown>) {
    const started = performance.now();
    try {
      return await traced(TELEMETRY_TRACING_CHANNELS.healthCheck, { check }, fn, summary);
    } catch (error) {
      publish(TELEMETRY_CHANNELS.healthFailed, () => ({
        check,
        code: errorCode(error),
        durationMs: performance.now() - started,
      }));
      throw error;
    }
  }

  /**
   * How far behind the primary readDb is: WAL bytes not yet replayed and the age of the last
   * replayed transaction (`configured: false` without a separate readDb).
   */
  readReplica(): Promise<ReadReplicaStatus> {
    return readReplicaStatus(this.ctx.routing, 'health.readReplica');
  }

  private async prepare(
    ctx: OperationsContext,
    selection: CoverageOptions['schema'],
    fallback: () => Promise<string[] | null>,
    what: string,
  ): Promise<string[] | null> {
    await ctx.assertInstalled(what);
    return resolveSchemas(ctx, selection, fallback, what);
  }

  /** public and every schema that holds a configured or captured table (those that exist). */
  private async defaultSchemas(ctx: OperationsContext, what: string): Promise<string[]> {
    const configured = ['public', ...[...ctx.tables.values()].map((t) => t.table.schema)];
    try {
      const { rows } = await ctx.client.query<{ s: string }>(
        `SELECT nspname::text AS s FROM pg_namespace WHERE nspname = ANY($1::text[])
         UNION SELECT table_schema FROM ${this.ctx.q}.captured_tables`,
        [configured],
      );
      return rows.map((r) => r.s).filter((s) => s !== this.ctx.schema);
    } catch (error) {
      throw toThreadlineError(error, what);
    }
  }

  private async coverageOf(
    ctx: OperationsContext,
    schemas: string[] | null,
    what: string,
    keepEmpty = false,
  ): Promise<CoverageReport> {
    const started = performance.now();
    const snapshot = await readCatalog(ctx, schemas, what);
    const { findings, covered } = analyzeCapture(snapshot, ctx.schema);
    publish(TELEMETRY_CHANNELS.findingsChecked, () => findingCounts(findings, started));
    const expected = new Set(this.config.expectedUncoveredTables.map(tableKey));
    const anyway = new Set(this.config.auditAnyway.map(tableKey));
    const bySchema = new Map<string, SchemaCoverage>();
    for (const s of schemas ?? []) bySchema.set(s, emptySchema(s));
    for (const rel of snapshot.relations) {
      if (rel.isPartition) continue;
      const entry = bySchema.get(rel.schema) ?? emptySchema(rel.schema);
      bySchema.set(rel.schema, entry);
      const key = tableKey(rel);
      if (covered.get(rel.oid)) entry.covered.push(rel.name);
      else if (expected.has(key)) entry.expectedUncovered.push({ table: rel.name, source: 'config' });
      else if (isBaselineUncovered(rel.name) && !anyway.has(key))
        entry.expectedUncovered.push({ table: rel.name, source: 'baseline' });
      else entry.uncovered.push(rel.name);
    }
    const list = [...bySchema.values()]
      .filter(
        (s) =>
          keepEmpty ||
          schemas !== null ||
          s.covered.length + s.uncovered.length > 0 ||
          s.expectedUncovered.length > 0,
      )
      .sort((a, b) => (a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : 0));
    return { checkedAt: new Date().toISOString(), schemas: list, findings };
  }
}

function emptySchema(schema: string): SchemaCoverage {
  return { schema, covered: [], uncovered: [], expectedUncovered: [] };
}

function counts(report: CoverageReport) {
  let covered = 0;
  let uncovered = 0;
  let expectedUncovered = 0;
  for (const s of report.schemas) {
    covered += s.covered.length;
    uncovered += s.uncovered.length;
    expectedUncovered += s.expectedUncovered.length;
  }
  return { covered, uncovered, expectedUncovered };
}

function findingCounts(findings: Finding[], started: number) {
  const codes: Record<string, number> = {};
  for (const f of findings) codes[f.code] = (codes[f.code] ?? 0) + 1;
  return {
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    codes,
    durationMs: performance.now() - started,
  };
}
