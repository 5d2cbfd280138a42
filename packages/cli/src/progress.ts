import { escapeControls } from './format-table.js';
import type { OutputStream } from './io.js';

export interface Progress {
  /** Show `<verb> <n>/<total> <item>` in place of the previous line. */
  step(item: string): void;
  /** Clear the line. */
  done(): void;
}

const SILENT: Progress = { step() {}, done() {} };

/** Progress on a terminal's stderr; nothing when it is not a TTY (or `enabled` is false). */
export function createProgress(
  stream: OutputStream,
  verb: string,
  total: number,
  enabled: boolean,
): Progress {
  if (!enabled || stream.isTTY !== true) return SILENT;
  let n = 0;
  let shown = false;
  return {
    step(item) {
      n++;
      stream.write(`\r\x1b[2K${verb} ${n}/${total} ${escapeControls(item)}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
