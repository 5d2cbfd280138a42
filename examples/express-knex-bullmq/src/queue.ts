import { Redis } from 'ioredis';

/** The fulfilment queue: the API adds a job per order, the worker process ships it. */
export const QUEUE = 'fulfilment';

export interface FulfilmentJob {
  orderId: number;
}

export const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null, // what BullMQ workers require
});

/** BullMQ's Redis key prefix (tests give each run its own). */
export const prefix = process.env.BULLMQ_PREFIX ?? 'bull';
