import type { Command } from './command.js';
import { exportCommand } from './export.js';
import { genTriggersCommand } from './gen-triggers.js';
import { historyCommand } from './history.js';
import { incidentCommand } from './incident.js';
import { installCommand } from './install.js';
import { timelineCommand } from './timeline.js';

/** Every command, in the order `threadline --help` lists them. A new command is one file plus one line here. */
export const COMMANDS: readonly Command[] = [
  installCommand,
  genTriggersCommand,
  historyCommand,
  timelineCommand,
  incidentCommand,
  exportCommand,
];
