import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  contextBinding,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  setAuditActor,
  ThreadlineError,
  updateAuditContext,
} from '../src/index.js';

describe('ActorRef', () => {
  it('builds every type and normalizes numeric ids to strings', () => {
    expect(ActorRef.user(42)).toEqual({ type: 'user', id: '42' });
    expect(ActorRef.admin('a')).toEqual({ type: 'admin', id: 'a' });
    expect(ActorRef.serviceAccount('svc')).toEqual({ type: 'service_account', id: 'svc' });
    expect(ActorRef.job('emails')).toEqual({ type: 'job', id: 'emails' });
    expect(ActorRef.system('cron')).toEqual({ type: 'system', id: 'cron' });
    expect(ActorRef.anonymous()).toEqual({ type: 'anonymous' });
  });

  it('parses JSON and objects, rejecting bad shapes with typed errors', () => {
    expect(ActorRef.parse('{"type":"user","id":"7"}')).toEqual({ type: 'user', id: '7' });
    expect(ActorRef.parse({ type: 'anonymous' })).toEqual({ type: 'anonymous' });
    const bad: unknown[] = [
      null,
      'nope',
      '[1]',
      { type: 'robot', id: '1' },
      { type: 'user' },
      { type: 'user', id: '' },
      { type: 'user', id: '   ' },
      { type: 'user', id: 'x'.repeat(300) },
      { type: 'user', id: 'a\u0000b' },
      { type: 'user', id: '1', extra: true },
      { type: 'anonymous', id: '3' },
      { type: 'user', id: {} },
    ];
    for (const value of bad) {
      let caught: unknown;
      try {
        ActorRef.parse(value);
      } catch (error) {
        caught = error;
      }
      expect(isThreadlineError(caught, 'INVALID_ACTOR'), JSON.stringify(value)).toBe(true);
    }
  });

  it('round-trips the type:id form', () => {
    expect(ActorRef.fromString('user:42')).toEqual({ type: 'user', id: '42' });
    expect(ActorRef.fromString('service_account:a:b')).toEqual({ type: 'service_account', id: 'a:b' });
    expect(ActorRef.format(ActorRef.job('q'))).toBe('job:q');
    expect(() => ActorRef.fromString('42')).toThrow(ThreadlineError);
  });
});

describe('audit context', () => {
  it('is scoped, nests by merging, and is visible through awaits', async () => {
    expect(getAuditContext()).toBeUndefined();
    await runWithAuditContext({ actor: ActorRef.user(1), correlationId: 'c' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      expect(getAuditContext()).toMatchObject({ actor: { type: 'user', id: '1' }, correlationId: 'c' });
      await runWithAuditContext({ actor: ActorRef.job('q') }, async () => {
        expect(getAuditContext()).toMatchObject({ actor: { type: 'job', id: 'q' }, correlationId: 'c' });
      });
      expect(getAuditContext()?.actor).toEqual({ type: 'user', id: '1' });
    });
    expect(getAuditContext()).toBeUndefined();
  });

  it('lets a later step set the actor of an open context', async () => {
    await runWithAuditContext({ requestId: 'r1' }, async () => {
      setAuditActor(ActorRef.admin('9'));
      updateAuditContext({ jobId: 'j' });
      expect(getAuditContext()).toMatchObject({
        actor: { type: 'admin', id: '9' },
        requestId: 'r1',
        jobId: 'j',
      });
    });
    expect(() => setAuditActor(ActorRef.user(1))).toThrow(/no audit context is active/);
  });

  it('isolates concurrent contexts', async () => {
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(i) }, async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 10));
          return getAuditContext()?.actor;
        }),
      ),
    );
    expect(seen.map((a) => (a as { id: string }).id)).toEqual(
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
  });

  it('validates context values', () => {
    expect(() => runWithAuditContext({ correlationId: 'x'.repeat(300) }, () => 1)).toThrow(
      /at most 256 bytes/,
    );
    expect(() => runWithAuditContext({ correlationId: '  ' }, () => 1)).toThrow(ThreadlineError);
    expect(() => runWithAuditContext({ wat: 1 } as never, () => 1)).toThrow(/unknown key "wat"/);
    expect(() => runWithAuditContext({ meta: [] as never }, () => 1)).toThrow(/meta must be a plain object/);
    expect(runWithAuditContext({ correlationId: '  abc  ' }, () => getAuditContext()?.correlationId)).toBe(
      'abc',
    );
  });

  it('shares one store across copies through a Symbol.for global', async () => {
    // A second instance of the module (its own top-level state), as a second installed copy of
    // the package would be: a context set through one is read through the other.
    const secondCopy = '../src/context/context.js?second-copy';
    const other = (await import(/* @vite-ignore */ secondCopy)) as typeof import('../src/context/context.js');
    expect(other.runWithAuditContext).not.toBe(runWithAuditContext);
    const seen = other.runWithAuditContext({ actor: ActorRef.user('copy-a'), correlationId: 'c-a' }, () =>
      getAuditContext(),
    );
    expect(seen).toMatchObject({ actor: { type: 'user', id: 'copy-a' }, correlationId: 'c-a' });
    const back = runWithAuditContext(
      { actor: ActorRef.user('copy-b') },
      () => other.getAuditContext()?.actor,
    );
    expect(back).toEqual({ type: 'user', id: 'copy-b' });
  });
});

describe('contextBinding', () => {
  it('is one statement with bound parameters and no values in the SQL text', () => {
    const hostile = "x'); drop table posts; --";
    const binding = runWithAuditContext(
      { actor: ActorRef.user(hostile), correlationId: '*/ select 1 /*' },
      () => contextBinding(),
    );
    expect(binding?.sql).toBe(
      "select set_config('threadline.actor_ref', $1, true), set_config('threadline.context', $2, true)",
    );
    expect(binding?.sql).not.toContain('drop');
    expect(JSON.parse(binding!.params[0])).toEqual({ type: 'user', id: hostile });
    expect(JSON.parse(binding!.params[1])).toEqual({ correlationId: '*/ select 1 /*' });
  });

  it('is null outside a context', () => {
    expect(contextBinding()).toBeNull();
  });
});
