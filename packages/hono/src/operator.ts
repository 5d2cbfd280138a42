import { createOperatorSurface, type OperatorSurfaceOptions } from '@threadline/operator';
import { type Context, type Env, Hono } from 'hono';

/**
 * The operator surface as a Hono app: `app.route('/audit', operatorSurface({ threadline,
 * authorize: (c) => ..., basePath: '/audit' }))`. `authorize` gets Hono's Context.
 */
export function operatorSurface<E extends Env = Env>(options: OperatorSurfaceOptions<Context<E>>): Hono<E> {
  const surface = createOperatorSurface(options);
  const app = new Hono<E>();
  app.all('*', (c) => surface.fetch(c.req.raw, c));
  return app;
}
