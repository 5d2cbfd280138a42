import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { isThreadlineError } from '../src/index.js';
import { installed } from './helpers.js';

/** Values whose String() throws: the caller still gets a ThreadlineError naming the argument. */
const unprintable: [string, unknown][] = [
  ['toString: false', { toString: false }],
  [
    'a throwing Symbol.toPrimitive',
    {
      [Symbol.toPrimitive]: () => {
        throw new Error('no');
      },
    },
  ],
  ['a null-prototype object', Object.create(null)],
];

describeEachDb('arguments whose String() throws', (db) => {
  for (const [name, value] of unprintable) {
    it(`${name}: QUERY_INVALID, not a TypeError`, async () => {
      const tl = await installed(db());
      for (const work of [
        () => tl.timeline({ to: value as never }),
        () => tl.timeline({ from: value as never }),
        () => tl.revert.plan({ transactionId: value as never }),
        () => tl.auditTransaction(value as never),
        () => tl.timeline({ table: 'public.items', tableSchema: value as never }),
        () =>
          tl.activity({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', bucket: value as never }),
      ]) {
        const error = await work().then(
          () => null,
          (e: unknown) => e,
        );
        expect(isThreadlineError(error, 'QUERY_INVALID'), String((error as Error)?.message)).toBe(true);
      }
    });
  }
});
