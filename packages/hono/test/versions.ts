import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Hono as Hono40 } from 'hono4-0';

/** Every Hono the adapter is verified against (the peer range's floor and the current release). */
export const honoVersions: [string, typeof Hono][] = [
  ['hono 4.13.19', Hono],
  // Typed as the current Hono: the tests exercise 4.0.0's runtime, not its typings.
  ['hono 4.0.0', Hono40 as unknown as typeof Hono],
];

/** Serve an app with @hono/node-server on 127.0.0.1, port 0. */
export async function listen(app: { fetch: (req: Request, env?: unknown) => Response | Promise<Response> }) {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
