import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CopyRecords } from '../src/export/copy-records.js';

/** Feed `bytes` in the given chunk sizes and take records `limit` at a time. */
function run(
  records: CopyRecords,
  bytes: Buffer,
  cuts: number[],
  limit: number,
): { text: string; rows: number } {
  const out: Buffer[] = [];
  let rows = 0;
  let at = 0;
  let first = true;
  const drain = () => {
    for (let batch = records.take(limit, first); batch; batch = records.take(limit, first)) {
      expect(batch.rows).toBeLessThanOrEqual(limit);
      out.push(batch.data);
      rows += batch.rows;
      first = false;
    }
  };
  for (const cut of [...cuts, bytes.length]) {
    const end = Math.min(bytes.length, Math.max(at, cut));
    if (end > at) records.push(bytes.subarray(at, end));
    at = end;
    drain();
  }
  return { text: Buffer.concat(out).toString('utf8'), rows };
}

/** Binary COPY of one text column holding `values`. */
function binaryCopy(values: string[]): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const value of values) {
    const data = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(6);
    head.writeInt16BE(1, 0);
    head.writeInt32BE(data.length, 2);
    parts.push(head, data);
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);
  parts.push(trailer);
  return Buffer.concat(parts);
}

const cell = fc.oneof(
  fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
  fc.constantFrom('', '"', '""', ',', '\n', '\r\n', '\r', 'a"b\nc', '=1+1', 'emoji 😀, "x"'),
);

/** A CSV record the way COPY writes one: quoted when a field holds ", comma, CR or LF or is empty. */
const copyCsv = (row: string[]) =>
  `${row.map((v) => (v === '' || /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)).join(',')}\n`;

describe('CopyRecords: whole records out of COPY bytes, however they are chunked', () => {
  it('CSV: record ends (LF outside quotes) become CR LF; quoted CR and LF stay; every byte kept', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { maxLength: 6 }),
        fc.array(fc.nat(400)),
        fc.integer({ min: 1, max: 3 }),
        (rows, cuts, limit) => {
          const bytes = Buffer.from(rows.map(copyCsv).join(''), 'utf8');
          const got = run(
            new CopyRecords('csv'),
            bytes,
            cuts.sort((a, b) => a - b),
            limit,
          );
          expect(got.rows).toBe(rows.length);
          expect(got.text).toBe(rows.map((r) => `${copyCsv(r).slice(0, -1)}\r\n`).join(''));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('binary: each value between prefix and suffix, no separator before the first; the trailer ends it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary' }), { maxLength: 6 }),
        fc.array(fc.nat(200)),
        fc.integer({ min: 1, max: 3 }),
        (values, cuts, limit) => {
          const bytes = binaryCopy(values);
          const json = new CopyRecords('binary', Buffer.from(',\n'));
          const got = run(
            json,
            bytes,
            cuts.sort((a, b) => a - b),
            limit,
          );
          expect(got.rows).toBe(values.length);
          expect(got.text).toBe(values.join(',\n'));
          expect(json.ended).toBe(true);
          const ndjson = run(new CopyRecords('binary', Buffer.alloc(0), Buffer.from('\n')), bytes, [], limit);
          expect(ndjson.text).toBe(values.map((v) => `${v}\n`).join(''));
        },
      ),
      { numRuns: 300 },
    );
  });
});
