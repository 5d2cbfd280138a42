import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import express50 from 'express5-0';

export type ExpressFactory = typeof express;

/** Every Express the adapter is verified against (the peer range's floors and the current release). */
export const expressVersions: [string, ExpressFactory][] = [
  ['express 5.3.0', express],
  ['express 5.0.0', express50],
  ['express 4.21.2', express4],
];

/** Serve an app on 127.0.0.1, port 0. */
export async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
