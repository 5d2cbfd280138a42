import type { Finding } from '@threadline/core';
import type { Output } from '../output.js';

/** Findings as a table, each followed by its fix, for people. */
export function printFindings(out: Output, findings: readonly Finding[]): void {
  if (findings.length === 0) {
    out.line('Findings: none');
    return;
  }
  out.line(`Findings: ${findings.length}`);
  out.table(
    findings.map((f) => ({
      severity: f.severity,
      table: f.schema === 'public' ? f.table : `${f.schema}.${f.table}`,
      code: f.code,
      fix: f.fix,
    })),
    ['severity', 'table', 'code', { key: 'fix', maxWidth: 120 }],
  );
  for (const f of findings) out.line(`- ${f.message}`);
}
