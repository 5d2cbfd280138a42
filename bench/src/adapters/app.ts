/** What every framework's bench app gets, so the three apps differ only in framework glue. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Threadline } from '@threadline/core';
import type { ActorRef } from '@threadline/core/adapter';
import type { Variant } from './protocol.js';
import type { PlaceOrder } from './shop.js';

export interface Counters {
  served: number;
  withActor: number;
  failed: number;
  firstError: string | undefined;
}

export interface AppDeps {
  variant: Variant;
  /** Endpoint scenario only: the transaction behind POST /orders. */
  placeOrder: PlaceOrder | undefined;
  /** Threadline variant only. */
  threadline: Threadline | undefined;
  /** Threadline variant only: the adapter's actor callback reads this header value. */
  actorFromHeader: ((value: string | undefined) => ActorRef | undefined) | undefined;
  /** The handler asks for the active audit context's actor (plain: always undefined). */
  contextActor: () => unknown;
  counters: Counters;
}

/** The floor variant's context: a bare AsyncLocalStorage holding the actor header's value. */
export const floorStorage = new AsyncLocalStorage<{ actor: string | undefined }>();

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

export type StartApp = (deps: AppDeps) => Promise<RunningApp>;

/** GET /ping: the trivial endpoint of the middleware-alone scenario. */
export function ping(deps: AppDeps): { ok: true } {
  deps.counters.served++;
  if (deps.contextActor() !== undefined) deps.counters.withActor++;
  return { ok: true };
}

export function recordFailure(deps: AppDeps, error: unknown): void {
  deps.counters.failed++;
  deps.counters.firstError ??= String((error as Error)?.stack ?? error);
}
