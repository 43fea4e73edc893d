/**
 * The verification server's board reader (issue 9.2): its timeout measures the network only.
 * Time the consumer spends between two reads (the audit checking a chunk's ballots) must never
 * count; a ballot server that really stalls must still be noticed.
 *
 * The ballot server is a fetch that serves a body stream the test controls, wired to the
 * request's abort signal like a real connection.
 */
import t from 'tap';
import { httpBoardAccess } from '../src/verifier/board-access.js';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { exportLines } from '../bulletin/export.js';
import { boardKeyFixture } from './helpers/fixtures.js';

const TOKEN = 'service-token-0123456789';

/** A fetch whose export body yields `chunks`, then (if `stallAfter`) never yields again. */
function fakeFetch(chunks: string[], stall: boolean): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        init?.signal?.addEventListener('abort', () => ctl.error(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      },
      pull(ctl) {
        if (i < chunks.length) {
          ctl.enqueue(new TextEncoder().encode(chunks[i++]!));
          return;
        }
        if (!stall) ctl.close();
        return new Promise(() => undefined); // a silent server
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
  }) as typeof fetch;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real board export, one line per chunk: header, entries, final checkpoint. */
async function exportedLines(entries: number): Promise<string[]> {
  const board = await Board.open(new MemoryBoardStore(), { electionId: 'timeout', boardSecretKey: boardKeyFixture().secretKey });
  await board.append('setup', { n: 0 });
  for (let i = 1; i < entries; i++) await board.append('close', { n: i });
  const lines: string[] = [];
  for await (const l of exportLines(board)) lines.push(`${l}\n`);
  await board.close();
  return lines;
}

t.test('regression: board reader timeout measures the network only, not the time spent checking', async (t) => {
  const lines = await exportedLines(3);
  const access = httpBoardAccess({ baseUrl: 'http://127.0.0.1:9', serviceToken: TOKEN, timeoutMs: 100, fetch: fakeFetch(lines, false) });
  let records = 0;
  // The consumer works three times the timeout on every record: with the old idle timer, the
  // export was aborted while the verification server itself was busy.
  for await (const _ of access.records()) {
    records++;
    await sleep(300);
  }
  t.equal(records, lines.length, 'every line was read, however slow the consumer');
});

t.test('a ballot server that stalls mid-export is still BOARD_UNAVAILABLE', async (t) => {
  const lines = await exportedLines(3);
  const access = httpBoardAccess({ baseUrl: 'http://127.0.0.1:9', serviceToken: TOKEN, timeoutMs: 100, fetch: fakeFetch(lines.slice(0, 2), true) });
  let records = 0;
  await t.rejects(
    (async () => {
      for await (const _ of access.records()) records++;
    })(),
    { code: 'BOARD_UNAVAILABLE' },
  );
  t.equal(records, 2, 'the records before the stall were read');
});
