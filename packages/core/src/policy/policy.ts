import { formatTableName, type TableName } from '../capture/identifiers.js';
import { tableKey } from '../capture/table-options.js';
import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';
import { parseConsistency } from '../db/read-routing.js';
import { tableList } from '../health/config.js';
import { regenerateCommand } from '../health/fixes.js';
import { checkKeys } from '../query/validate.js';
import { TELEMETRY_CHANNELS, TELEMETRY_TRACING_CHANNELS } from '../telemetry/channels.js';
import { publish, traced } from '../telemetry/publish.js';
import { generatedBody } from './function-source.js';
import type { PolicyDifference, PolicyEntry, PolicyOptions, PolicyReport, Redaction } from './types.js';

interface DeployedRow {
  schema: string;
  name: string;
  options: Record<string, unknown>;
  mode: string;
  keyColumns: string[];
  functionName: string;
  source: string | null;
}

const DEFAULT_REDACTION: Redaction = { exclude: [], mask: [], maskPlaceholder: '[REDACTED]' };

function redactionOf(options: Record<string, unknown>): Redaction {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    exclude: list(options.exclude),
    mask: list(options.mask),
    maskPlaceholder: typeof options.maskPlaceholder === 'string' ? options.maskPlaceholder : '[REDACTED]',
  };
}

function differences(configured: Redaction, deployed: Redaction): PolicyDifference[] {
  const out: PolicyDifference[] = [];
  const sorted = (a: string[]) => [...a].sort();
  for (const field of ['exclude', 'mask'] as const) {
    if (sorted(configured[field]).join('\u0000') !== sorted(deployed[field]).join('\u0000'))
      out.push({ field, configured: sorted(configured[field]), deployed: sorted(deployed[field]) });
  }
  const masks = configured.mask.length > 0 || deployed.mask.length > 0;
  if (masks && configured.maskPlaceholder !== deployed.maskPlaceholder)
    out.push({
      field: 'maskPlaceholder',
      configured: configured.maskPlaceholder,
      deployed: deployed.maskPlaceholder,
    });
  return out;
}

/** `tl.policy`: is the redaction that capture applies the redaction that is configured? */
export class PolicyChecks {
  constructor(private readonly ctx: OperationsContext) {}

  /**
   * Configured vs deployed redaction for every configured or captured table. Deployed redaction
   * comes from Threadline's registry and counts only when the installed function is exactly what
   * Threadline generates for it; anything else is `could_not_introspect`, never a guess.
   */
  show(options: PolicyOptions = {}): Promise<PolicyReport> {
    return traced(
      TELEMETRY_TRACING_CHANNELS.policyCheck,
      {},
      async () => {
        const started = performance.now();
        const report = await this.build(options);
        publish(TELEMETRY_CHANNELS.policyChecked, () => ({
          ...stateCounts(report),
          durationMs: performance.now() - started,
        }));
        return report;
      },
      stateCounts,
    );
  }

  private async build(options: PolicyOptions): Promise<PolicyReport> {
    const what = 'policy.show';
    options = checkKeys(options, ['tables', 'consistency'], `${what} options`) as PolicyOptions;
    // The registry and pg_proc: on readDb they are the primary's as of its replay position.
    const ctx = this.ctx.forRead(parseConsistency(options.consistency, what));
    const only =
      options.tables === undefined
        ? null
        : new Set(tableList(options.tables, `${what}: tables`).map(tableKey));
    await ctx.assertInstalled(what);
    let deployed: DeployedRow[];
    try {
      ({ rows: deployed } = await ctx.client.query<DeployedRow>(
        `SELECT ct.table_schema AS schema, ct.table_name AS name, ct.options, ct.mode, ct.key_columns AS "keyColumns",
                ct.function_name AS "functionName", p.prosrc AS source
           FROM ${this.ctx.q}.captured_tables ct
           LEFT JOIN pg_proc p ON p.proname = ct.function_name AND p.pronargs = 0
                AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          ORDER BY ct.table_schema, ct.table_name`,
        [this.ctx.schema],
      ));
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    const keys = new Map<string, TableName>();
    for (const t of this.ctx.tables.values()) keys.set(tableKey(t.table), t.table);
    for (const d of deployed) keys.set(tableKey(d), { schema: d.schema, name: d.name });
    const byKey = new Map(deployed.map((d) => [tableKey(d), d]));
    const entries: PolicyEntry[] = [];
    for (const [key, table] of [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (only && !only.has(key)) continue;
      const conf = this.ctx.tables.get(key);
      const configured = conf
        ? redactionOf(conf.options as unknown as Record<string, unknown>)
        : DEFAULT_REDACTION;
      const base = { table: formatTableName(table), inConfig: conf !== undefined, configured };
      const row = byKey.get(key);
      if (!row) {
        entries.push({
          ...base,
          state: 'not_deployed',
          deployed: null,
          differences: [],
          reason: `no capture is installed; run ${regenerateCommand(table)}`,
        });
        continue;
      }
      const problem = await this.introspect(ctx, row);
      if (problem) {
        entries.push({
          ...base,
          state: 'could_not_introspect',
          deployed: null,
          differences: [],
          reason: problem,
        });
        continue;
      }
      const actual = redactionOf(row.options);
      const diff = differences(configured, actual);
      entries.push({
        ...base,
        state: diff.length === 0 ? 'matches' : 'drift',
        deployed: actual,
        differences: diff,
        ...(diff.length > 0
          ? { reason: `capture was generated with other options; run ${regenerateCommand(table)}` }
          : {}),
      });
    }
    return { checkedAt: new Date().toISOString(), tables: entries };
  }

  /** Null when the installed function is exactly what Threadline generates for the registered options. */
  private async introspect(ctx: OperationsContext, row: DeployedRow): Promise<string | null> {
    const table = { schema: row.schema, name: row.name };
    const regen = regenerateCommand(table);
    if (row.source === null)
      return `its capture function ${this.ctx.schema}.${row.functionName} is missing; run ${regen}`;
    let expected: string | null = null;
    try {
      const { rows } = await ctx.client.query<{ sql: string }>(
        `SELECT ${this.ctx.q}.capture_plan($1, $2, $3::jsonb, $4, $5) ->> 'functionSql' AS sql`,
        [row.schema, row.name, JSON.stringify(row.options), row.mode, row.keyColumns.length === 0],
      );
      expected = rows[0]?.sql ? generatedBody(rows[0].sql) : null;
    } catch {
      return `the table no longer matches its registered capture options, so the deployed function cannot be read back; run ${regen}`;
    }
    if (expected === null || expected !== row.source)
      return `the installed function ${this.ctx.schema}.${row.functionName} is not the one Threadline generates for its registered options (edited by hand, or the table changed since); run ${regen}`;
    return null;
  }
}

function stateCounts(report: PolicyReport) {
  const n = (state: string) => report.tables.filter((t) => t.state === state).length;
  return {
    tables: report.tables.length,
    matches: n('matches'),
    drift: n('drift'),
    notDeployed: n('not_deployed'),
    couldNotIntrospect: n('could_not_introspect'),
  };
}
