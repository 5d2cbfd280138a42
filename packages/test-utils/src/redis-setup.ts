import { redisAvailable } from './redis.js';

/** Vitest global setup for packages that need Redis: checks it once (fails under CI=true). */
export default async function setup(): Promise<void> {
  process.env.TL_REDIS_AVAILABLE = (await redisAvailable()) ? '1' : '0';
}
