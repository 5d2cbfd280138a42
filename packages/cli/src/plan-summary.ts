import type { CapturePlan } from '@threadline/core';
import { formatTableName } from '@threadline/core/internal';
import type { TableColumn } from './format-table.js';
import type { Output } from './output.js';

const COLUMNS: TableColumn[] = [
  { key: 'table' },
  { key: 'relations', header: 'triggers on' },
  { key: 'key' },
  { key: 'keySource', header: 'key from' },
  { key: 'mode' },
  { key: 'exclude' },
  { key: 'mask' },
  { key: 'exceptColumns' },
  { key: 'changedFrom' },
  { key: 'deleteSnapshot' },
];

const list = (items: readonly string[]) => (items.length > 0 ? items.join(', ') : '-');
const yesNo = (value: boolean) => (value ? 'yes' : 'no');

/** Print capture plans as a table: one row per audited table. */
export function printPlans(out: Output, plans: readonly CapturePlan[]): void {
  out.table(
    plans.map((plan) => ({
      table: formatTableName(plan.table),
      relations: plan.relations,
      key: list(plan.keyColumns),
      keySource: plan.keySource,
      mode: plan.mode,
      exclude: list(plan.options.exclude),
      mask:
        plan.options.mask.length > 0
          ? `${list(plan.options.mask)} (as ${plan.options.maskPlaceholder})`
          : '-',
      exceptColumns: list(plan.options.exceptColumns),
      changedFrom: yesNo(plan.options.changedFrom),
      deleteSnapshot: yesNo(plan.options.deleteSnapshot),
    })),
    COLUMNS,
  );
  for (const plan of plans) for (const warning of plan.warnings) out.note(`warning: ${warning}`);
  if (plans.some((plan) => plan.mode === 'portable')) {
    out.note(
      'note: portable mode means DDL sync is not active in this database (the role that ran install could not create event triggers); ' +
        'writes never fail after ALTER TABLE, but run gen-triggers --apply again after schema changes.',
    );
  }
}

/** The generated capture functions (dry run with --show-sql). */
export function printFunctionSql(out: Output, plans: readonly CapturePlan[]): void {
  for (const plan of plans) {
    out.line();
    out.line(`-- capture function for ${formatTableName(plan.table)} (${plan.mode} mode)`);
    out.line(plan.functionSql ? `${plan.functionSql};` : '-- (not generated)');
  }
}
