/**
 * Preloaded with `node --import` by bench/auditor-memory.ts: prints the process's peak resident
 * memory (worker threads included) on stderr when it exits.
 */
process.on('exit', () => {
  process.stderr.write(`max-rss-kib ${process.resourceUsage().maxRSS}\n`);
});
