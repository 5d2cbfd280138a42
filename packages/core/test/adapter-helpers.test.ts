import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  getAuditContext,
  jobContextData,
  readJobContextData,
  runWithAuditContext,
  runWithFreshAuditContext,
} from '../src/adapter.js';

describe('runWithFreshAuditContext', () => {
  it('ignores the outer context instead of merging into it', () => {
    const outer = { actor: ActorRef.user('outer'), requestId: 'req-outer', meta: { a: 1 } };
    const seen = runWithAuditContext(outer, () =>
      runWithFreshAuditContext({ actor: ActorRef.job('q'), jobId: '7', source: 'bullmq' }, () =>
        getAuditContext(),
      ),
    );
    expect(seen).toEqual({ actor: { type: 'job', id: 'q' }, jobId: '7', source: 'bullmq' });
  });

  it('validates like runWithAuditContext and drops undefined fields', () => {
    expect(() => runWithFreshAuditContext({ jobId: 'x'.repeat(300) }, () => 1)).toThrow(/jobId/);
    expect(runWithFreshAuditContext({ jobId: '1', causationId: undefined }, () => getAuditContext())).toEqual(
      {
        jobId: '1',
      },
    );
  });

  it('round-trips through job context data', () => {
    const stamp = runWithFreshAuditContext(
      { actor: ActorRef.user('u'), correlationId: 'c', jobId: 'parent' },
      () => jobContextData(),
    );
    expect(readJobContextData(JSON.parse(JSON.stringify(stamp)))).toEqual({
      actor: { type: 'user', id: 'u' },
      correlationId: 'c',
      causationId: 'parent',
    });
  });
});
