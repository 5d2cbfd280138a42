// Preloaded into each service by the load run (node --expose-gc --import this-file): on SIGWINCH
// (a signal no service handles: NestJS's shutdown hooks take SIGUSR2)
// the process collects garbage and prints its memory, which the load run reads from its output.
process.on('SIGWINCH', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.stdout.write(`TL_MEMORY ${JSON.stringify({ rss, heapUsed })}\n`);
});
