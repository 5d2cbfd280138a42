import { formatTableName, quoteIdent } from '../capture/identifiers.js';
import { COLUMN_TYPE_SQL } from '../db/column-type-sql.js';
import { ThreadlineError } from '../errors.js';
import type { Run } from './load.js';

/** What revert needs to know about one table: its columns now and how it was captured. */
export interface TableMeta {
  schema: string;
  name: string;
  /** `schema.name` for people. */
  label: string;
  /** `"schema"."name"` for SQL. */
  ref: string;
  keyColumns: string[];
  /** Every column the table has now, in table order. */
  columns: string[];
  /**
   * Each column's SQL type (format_type, schema-qualified unless built in): statements read the
   * columns they use from the stored jsonb with these (a column they do not read is not
   * populated, so a NOT NULL domain elsewhere in the row does not see a NULL).
   */
  types: Map<string, string>;
  /** Columns an INSERT may write (not generated), in table order. */
  writable: string[];
  exclude: string[];
  mask: string[];
  /** Columns a re-check ignores: excluded, masked, exceptColumns. */
  ignored: string[];
  /**
   * A foreign key from the table to itself: its rows are written in one statement per op (the key
   * is checked at the end of each statement, so a tree split over batches would fail half-way).
   */
  selfReferencing: boolean;
  /**
   * The table's key is its primary key and that is DEFERRABLE: two rows can hold one key at once
   * (until the end of the statement, or of the transaction), so a change of a key that a row moved
   * into cannot be told to be that row's (net.ts).
   */
  deferrableKey?: boolean;
  /**
   * The name the reverted changes were recorded under, when the table has been renamed since
   * (resolve.ts): set-steps.ts reads the transactions' changes by it.
   */
  recorded?: { schema: string; name: string };
  /** The relation's oid (text): apply checks the name still points to it. */
  relid: string;
  /**
   * The table id of the reverted changes (resolve.ts), when known: their later changes are looked
   * for by it, not by the name, which also answers for dropped tables that once had it.
   */
  tableId?: number;
}

interface MetaRow {
  present: boolean;
  relid: string | null;
  storage: boolean;
  options: string | null;
  key_columns: string | null;
  columns: string | null;
  self_ref: boolean;
  deferrable: boolean;
}

export async function loadTableMeta(
  run: Run,
  q: string,
  schema: string,
  name: string,
  sampleKey: string,
): Promise<TableMeta> {
  const label = formatTableName({ schema, name });
  const [row] = await run<MetaRow>(
    `SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL AS present,
       to_regclass(format('%I.%I', $1::text, $2::text))::oid::text AS relid,
       coalesce((SELECT c.relnamespace = to_regnamespace($3::text) FROM pg_class c WHERE c.oid = to_regclass(format('%I.%I', $1::text, $2::text))), false) AS storage,
       (SELECT ct.options::text FROM ${q}.captured_tables ct WHERE ct.table_schema = $1 AND ct.table_name = $2) AS options,
       (SELECT array_to_json(ct.key_columns)::text FROM ${q}.captured_tables ct WHERE ct.table_schema = $1 AND ct.table_name = $2) AS key_columns,
       (SELECT json_agg(json_build_object('n', a.attname, 'g', a.attgenerated <> '',
                 't', ${COLUMN_TYPE_SQL}) ORDER BY a.attnum)::text
          FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid JOIN pg_namespace ns ON ns.oid = ty.typnamespace
         WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.contype = 'f'
                 AND con.conrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND con.confrelid = con.conrelid) AS self_ref,
       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.contype = 'p' AND con.condeferrable
                 AND con.conrelid = to_regclass(format('%I.%I', $1::text, $2::text))) AS deferrable`,
    [schema, name, q],
  );
  // Only a forged audit row can name one of Threadline's own tables: never write to them.
  if (row?.storage)
    throw new ThreadlineError(
      'REVERT_REFUSED',
      `revert: ${label} is one of Threadline's own tables; the audit trail is never reverted`,
    );
  if (!row?.present)
    throw new ThreadlineError(
      'NOT_FOUND',
      `revert.plan: table ${label} no longer exists, so its changes cannot be reverted`,
    );
  const options = row.options ? (JSON.parse(row.options) as Record<string, unknown>) : {};
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const columns = row.columns ? (JSON.parse(row.columns) as { n: string; g: boolean; t: string }[]) : [];
  const keyColumns = row.key_columns
    ? (JSON.parse(row.key_columns) as string[])
    : Object.keys(JSON.parse(sampleKey) as Record<string, unknown>);
  const exclude = list(options.exclude);
  const mask = list(options.mask);
  return {
    schema,
    name,
    label,
    ref: `${quoteIdent(schema)}.${quoteIdent(name)}`,
    keyColumns,
    columns: columns.map((c) => c.n),
    types: new Map(columns.map((c) => [c.n, c.t])),
    writable: columns.filter((c) => !c.g).map((c) => c.n),
    exclude,
    mask,
    ignored: [...exclude, ...mask, ...list(options.exceptColumns)],
    selfReferencing: row.self_ref === true,
    // A primaryKey option names a unique index, which capture requires not to be deferrable.
    deferrableKey: row.deferrable === true && (options.primaryKey ?? null) === null,
    relid: row.relid!,
  };
}
