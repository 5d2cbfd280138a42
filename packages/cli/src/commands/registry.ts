import type { Command } from './command.js';
import { continuityBaselineCommand, continuityCommand } from './continuity.js';
import { execCommand } from './exec.js';
import { exportCommand } from './export.js';
import { genTriggersCommand } from './gen-triggers.js';
import { healthCoverageCommand } from './health-coverage.js';
import { historyCommand } from './history.js';
import { incidentCommand } from './incident.js';
import { installCommand } from './install.js';
import { sealCommand, verifyIntegrityCommand } from './integrity.js';
import { policyShowCommand } from './policy-show.js';
import { retentionPurgeCommand, retentionRunsCommand } from './retention.js';
import { revertCommand } from './revert.js';
import { storageMaintainCommand, storageStatusCommand } from './storage.js';
import { timelineCommand } from './timeline.js';
import { uninstallCommand } from './uninstall.js';
import { verifyCoverageCommand } from './verify-coverage.js';

/** Every command, in the order `threadline --help` lists them. A new command is one file plus one line here. */
export const COMMANDS: readonly Command[] = [
  installCommand,
  genTriggersCommand,
  historyCommand,
  timelineCommand,
  incidentCommand,
  retentionPurgeCommand,
  retentionRunsCommand,
  storageStatusCommand,
  storageMaintainCommand,
  sealCommand,
  verifyIntegrityCommand,
  revertCommand,
  healthCoverageCommand,
  verifyCoverageCommand,
  policyShowCommand,
  continuityCommand,
  continuityBaselineCommand,
  uninstallCommand,
  execCommand,
  exportCommand,
];
