#!/usr/bin/env node
import { main } from '../dist/index.js';

// `threadline install | head` closes the pipe early; that is not an error. The command gets a
// moment to finish what must not be lost (an export records that it stopped), then the process
// ends even if the command would go on writing.
let closing = false;
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(0), 5000).unref();
});

process.exitCode = await main(process.argv.slice(2));
