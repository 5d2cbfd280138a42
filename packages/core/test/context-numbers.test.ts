import { expect, it } from 'vitest';
import { validateAuditContext } from '../src/context/context.js';

it('a context id given as a number must be finite, as an actor id must (NaN and Infinity are refused)', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
    for (const field of ['correlationId', 'requestId', 'jobId', 'causationId', 'source'])
      expect(() => validateAuditContext({ [field]: bad }), `${field} ${bad}`).toThrow(
        new RegExp(`audit context: ${field} must be a non-empty string`),
      );
  expect(validateAuditContext({ correlationId: 42, requestId: 1.5 })).toEqual({
    correlationId: '42',
    requestId: '1.5',
  });
});
