import { createOperatorSurface, nodeHandler, type OperatorSurfaceOptions } from '@threadline/operator';
import type { Request, RequestHandler } from 'express';

/**
 * The operator surface as Express middleware: `app.use('/audit', operatorSurface({ threadline,
 * authorize: (req) => ..., basePath: '/audit' }))`. `authorize` gets Express's `req` (so
 * `req.user` from passport or a session is there). `basePath` is the path it is mounted at.
 */
export function operatorSurface(options: OperatorSurfaceOptions<Request>): RequestHandler {
  const handler = nodeHandler(createOperatorSurface(options));
  return (req, res, next) => handler(req, res, next);
}
