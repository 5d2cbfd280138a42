export { OPERATOR_CHANNELS } from './channels.js';
export { type NodeHandler, nodeHandler, toWebRequest } from './node.js';
export type { Authorize, OperatorGrant, OperatorSurfaceOptions } from './options.js';
export { createOperatorSurface, type OperatorSurface } from './surface.js';
