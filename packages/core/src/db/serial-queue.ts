import { AsyncLocalStorage } from 'node:async_hooks';

/** What a queue's holder may do while it holds it. */
export interface QueueHold {
  /**
   * End the holder's own right to run at once: call it when the callback that owns the hold has
   * settled, so work that callback left behind (a timer, an unawaited promise, which inherit its
   * async context) queues behind the holder instead of slipping into what it still has to send
   * (a COMMIT).
   */
  seal(): void;
}

export interface SerialQueue {
  run<T>(fn: (hold: QueueHold) => Promise<T>): Promise<T>;
}

/**
 * One connection, many async contexts: every statement sent through the queue waits its turn.
 * Work that the holder itself starts while it holds the queue (tl.install() inside
 * tl.transaction) runs at once; work it leaves behind queues like everyone else, from the moment
 * the hold is sealed (else from the moment the hold ends).
 */
class ConnectionQueue implements SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly holder = new AsyncLocalStorage<{ open: boolean }>();

  run<T>(fn: (hold: QueueHold) => Promise<T>): Promise<T> {
    const held = this.holder.getStore();
    if (held?.open) return fn({ seal: () => undefined });
    const token = { open: true };
    const hold: QueueHold = {
      seal: () => {
        token.open = false;
      },
    };
    const next = this.tail
      .then(() => this.holder.run(token, () => fn(hold)))
      .finally(() => {
        token.open = false;
      });
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * The queues, one per connection object, on a global so that every Threadline instance and every
 * installed copy of core (and every adapter) that sends through one pg Client shares one queue.
 */
const QUEUES = Symbol.for('threadline.connection-queues.v1');
type QueueMap = WeakMap<object, SerialQueue>;

function queues(): QueueMap {
  const g = globalThis as unknown as Record<symbol, QueueMap | undefined>;
  let map = g[QUEUES];
  if (!map) {
    map = new WeakMap();
    Object.defineProperty(globalThis, QUEUES, { value: map, enumerable: false });
  }
  return map;
}

/** The queue of `connection` (a pg Client, an ORM's pooled connection), created on first use. */
export function queueOf(connection: object): SerialQueue {
  const map = queues();
  let queue = map.get(connection);
  if (!queue) {
    queue = new ConnectionQueue();
    map.set(connection, queue);
  }
  return queue;
}

/**
 * Which transaction each async context is in on one connection (a pg Client, a PGlite), on a
 * global like the queues: two Threadline instances (or two copies of core) on one Client must see
 * each other's transactions, so the inner tl2.transaction inside tl.transaction makes a SAVEPOINT
 * instead of a BEGIN that does nothing and a COMMIT that ends the outer transaction.
 */
const SESSIONS = Symbol.for('threadline.connection-sessions.v1');
type SessionMap = WeakMap<object, AsyncLocalStorage<unknown>>;

export function sessionStoreOf<T>(connection: object): AsyncLocalStorage<T> {
  const g = globalThis as unknown as Record<symbol, SessionMap | undefined>;
  let map = g[SESSIONS];
  if (!map) {
    map = new WeakMap();
    Object.defineProperty(globalThis, SESSIONS, { value: map, enumerable: false });
  }
  let store = map.get(connection);
  if (!store) {
    store = new AsyncLocalStorage<unknown>();
    map.set(connection, store);
  }
  return store as AsyncLocalStorage<T>;
}
