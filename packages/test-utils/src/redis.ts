import { connect } from 'node:net';
import { REDIS_URL, REQUIRE_SERVICES } from './env.js';

/** Host and port of the test Redis, as BullMQ's `connection` option takes them. */
export function redisConnection(): { host: string; port: number } {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

/** True when the real Redis answers PING; throws under CI=true when it does not. */
export async function redisAvailable(): Promise<boolean> {
  const { host, port } = redisConnection();
  const ok = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const done = (value: boolean) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(3000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
  if (!ok && REQUIRE_SERVICES) throw new Error(`CI=true but Redis is not reachable at ${REDIS_URL}`);
  return ok;
}

/** True when Redis is usable (set by redis-setup.ts as a vitest global setup). */
export function redisEnabled(): boolean {
  return process.env.TL_REDIS_AVAILABLE !== '0';
}
