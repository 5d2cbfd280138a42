export { ThreadlineOperatorModule, type ThreadlineOperatorModuleOptions } from './operator.module.js';
export {
  InjectThreadline,
  THREADLINE,
  THREADLINE_OPTIONS,
  ThreadlineModule,
  type ThreadlineModuleAsyncOptions,
  type ThreadlineModuleOptions,
} from './threadline.module.js';
export { WithAuditContext, type WithAuditContextOptions } from './with-audit-context.js';
