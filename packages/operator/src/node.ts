import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { OperatorSurfaceOptions } from './options.js';
import { createOperatorSurface, type OperatorSurface } from './surface.js';

const MAX_BODY_BYTES = 64 * 1024;

/**
 * A Web Request for a Node request. `originalUrl` (Express) keeps the mount path, so links and
 * routing see the path the browser used. A body that a body parser already read (`req.body` as an
 * object) is re-encoded as a form.
 */
export async function toWebRequest(
  req: IncomingMessage & { originalUrl?: string; body?: unknown },
): Promise<Request> {
  const host = req.headers.host ?? '127.0.0.1';
  const url = new URL(req.originalUrl ?? req.url ?? '/', `http://${host}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers });
  let body: string;
  if (
    req.body !== undefined &&
    typeof req.body === 'object' &&
    req.body !== null &&
    !Buffer.isBuffer(req.body)
  ) {
    body = new URLSearchParams(req.body as Record<string, string>).toString();
    headers.set('content-type', 'application/x-www-form-urlencoded');
  } else if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) {
    body = String(req.body);
  } else {
    body = await readBody(req);
  }
  headers.delete('content-length');
  return new Request(url, { method, headers, body });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Write a Web Response to a Node response, streaming the body with backpressure. */
async function sendWebResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') res.appendHeader('set-cookie', value);
    else res.setHeader(name, value);
  });
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  res.on('close', () => body.destroy());
  await new Promise<void>((resolve, reject) => {
    body.on('error', reject);
    res.on('finish', resolve);
    res.on('close', resolve);
    body.pipe(res);
  });
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/**
 * The surface as a Node/Connect/Express handler: pass a surface made for Node requests
 * (`createOperatorSurface<IncomingMessage>(...)`), or the options, whose `authorize` then gets
 * the `IncomingMessage`.
 */
export function nodeHandler<R extends IncomingMessage = IncomingMessage>(
  surface: OperatorSurface<R> | OperatorSurfaceOptions<R>,
): NodeHandler {
  const target = 'fetch' in surface ? surface : createOperatorSurface(surface);
  return (req, res, next) => {
    (async () => {
      const response = await target.fetch(await toWebRequest(req), req as R);
      await sendWebResponse(response, res);
    })().catch((error: unknown) => {
      if (next) next(error);
      else if (!res.headersSent) {
        res.statusCode = 500;
        res.end('Server error');
      } else res.destroy();
    });
  };
}
