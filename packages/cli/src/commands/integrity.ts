import type { IntegrityFinding, IntegrityVerifyResult, SealResult } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command, CommandContext } from './command.js';
import { windowOptions } from './query-flags.js';

function wholeNumber(ctx: CommandContext, name: string): number | undefined {
  const raw = ctx.flags[name] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
    throw ctx.usageError(`--${name} must be a whole number, got ${JSON.stringify(raw.slice(0, 20))}`);
  }
  return n;
}

const count = (n: number) => n.toLocaleString('en-US');

export const sealCommand: Command = {
  path: ['seal'],
  summary: 'extend the tamper-evidence hash chain over every committed audit row not sealed yet',
  usage: 'threadline seal [--chunk-size N] [--wait-ms N] [--json]',
  options: {
    'chunk-size': { type: 'string', value: 'N', description: 'ids per chain link (default 50000)' },
    'wait-ms': {
      type: 'string',
      value: 'N',
      description:
        'wait this long for transactions still in progress (default 2000); their rows go to a later seal',
    },
  },
  details: [
    'Seals never lock anything capture needs. Rows of transactions still open when the seal starts are left',
    'for the next seal. Keep the printed head hash somewhere outside the database: it anchors the chain.',
  ].join('\n'),
  async run(ctx) {
    const chunkSize = wholeNumber(ctx, 'chunk-size');
    const waitMs = wholeNumber(ctx, 'wait-ms');
    const tl = await ctx.threadline();
    const bar = ctx.out.progress('sealing: link', 0);
    const result: SealResult = await tl.integrity.seal({
      ...(chunkSize !== undefined ? { chunkSize } : {}),
      ...(waitMs !== undefined ? { waitMs } : {}),
      onLink: (l) => bar.step(`${l.relation} ids ${l.from}..${l.to} (${count(l.rowCount)} rows)`),
    });
    bar.done();
    if (ctx.json) {
      ctx.out.json(result);
      return ExitCode.ok;
    }
    ctx.out.line(
      `Sealed ${count(result.sealedRows)} rows in ${result.links.length} link${result.links.length === 1 ? '' : 's'}; sealed through audit_changes id ${result.sealedThrough.audit_changes}, audit_transactions id ${result.sealedThrough.audit_transactions}.`,
    );
    if (result.headHash) ctx.out.line(`Chain head: ${result.headHash}`);
    if (result.pending?.unkeyedChange) {
      ctx.out.note(
        `audit_changes id ${result.pending.unkeyedChange} was written before table ids and is not keyed yet: seals stop before it. Run threadline storage maintain (it keys such rows), then seal again.`,
      );
    } else if (result.pending) {
      ctx.out.note(
        `${result.pending.openTransactions} transaction(s) still in progress may hold ids up to ${result.pending.changesThrough}; the next seal takes them.`,
      );
    }
    return ExitCode.ok;
  },
};

function where(f: IntegrityFinding): string {
  if (f.table) return `${f.table} ${JSON.stringify(f.pk)}`;
  return f.relation;
}

export const verifyIntegrityCommand: Command = {
  path: ['verify-integrity'],
  summary: 'recompute the seal chain and every sealed row: names altered, inserted and removed rows',
  usage: 'threadline verify-integrity [--from ISO] [--to ISO] [--max-findings N] [--json]',
  options: {
    from: {
      type: 'string',
      value: 'ISO',
      description: 'only seals holding rows captured at or after this instant',
    },
    to: { type: 'string', value: 'ISO', description: 'only seals holding rows captured before this instant' },
    'max-findings': {
      type: 'string',
      value: 'N',
      description: 'list at most N findings (default 1000; counts stay exact)',
    },
  },
  details: [
    'Exit 0 when every sealed row is as sealed and the chain is whole (rows retention purged are listed as purged);',
    '1 when a row was altered, inserted or removed, or a seal was altered or removed. The chain itself is always checked whole.',
  ].join('\n'),
  async run(ctx) {
    const maxFindings = wholeNumber(ctx, 'max-findings');
    const tl = await ctx.threadline();
    const result: IntegrityVerifyResult = await tl.integrity.verify({
      ...windowOptions(ctx),
      ...(maxFindings !== undefined ? { maxFindings } : {}),
    });
    if (ctx.json) {
      ctx.out.json(result);
      return result.ok ? ExitCode.ok : ExitCode.failed;
    }
    if (result.findings.length > 0) {
      ctx.out.table(
        result.findings.map((f) => ({
          finding: f.kind,
          relation: f.relation,
          id: f.id,
          row: where(f),
          at: f.at ?? '',
          seal: f.sealId ?? '',
          detail: f.retentionRunId ? `retention run ${f.retentionRunId}` : '',
        })),
        ['finding', 'relation', 'id', 'row', 'at', 'seal', 'detail'],
      );
      if (result.findingsTruncated)
        ctx.out.note(`only the first ${result.findings.length} findings are listed`);
    }
    const c = result.counts;
    ctx.out.line(
      `checked ${count(result.sealsChecked)} seals, ${count(result.rowsChecked)} rows: ${c.altered} altered, ${c.inserted} inserted, ${c.removed} removed, ${c.purged} purged by retention, ${c.seal_altered + c.seal_removed + c.chain_broken} chain problems`,
    );
    const unsealed = result.unsealed.audit_changes + result.unsealed.audit_transactions;
    if (unsealed > 0) ctx.out.note(`${count(unsealed)} rows are not sealed yet (run threadline seal)`);
    ctx.out.line(
      result.ok
        ? 'verify-integrity: OK'
        : 'verify-integrity: FAILED (tampering or a broken chain; see above)',
    );
    return result.ok ? ExitCode.ok : ExitCode.failed;
  },
};
