/**
 * `npm run demo:web`: the web demo (src/web/web-demo.ts) from a terminal. A plain entry rather
 * than a `tallyboard` command because the command files belong to the CLI (docs/web.md says how
 * `tallyboard demo --web` can reuse `startWebDemo`).
 *
 * Flags: --voters N (default 5), --minutes M (default 30), --port P (default 8080; 0 = free),
 * --host H (default 127.0.0.1).
 */
import { parseArgs } from 'node:util';
import { describeWebDemo, startWebDemo } from './web-demo.js';

const { values } = parseArgs({
  options: {
    voters: { type: 'string', default: '5' },
    minutes: { type: 'string', default: '30' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});

try {
  const demo = await startWebDemo({
    voters: Number(values.voters),
    minutes: Number(values.minutes),
    port: Number(values.port),
    host: values.host,
    log: (l) => process.stdout.write(`  ${l}\n`),
  });
  for (const l of describeWebDemo(demo)) process.stdout.write(`${l}\n`);
  const stop = () => {
    demo.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (e) {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
