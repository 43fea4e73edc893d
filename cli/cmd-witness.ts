/**
 * `tallyboard witness`: a witness that cosigns the board's checkpoints (spec/09-board.md §9.9,
 * spec §11.6).
 *
 *   tallyboard witness keygen --name NAME --out FILE
 *       writes a new witness key file (0600) and prints the manifest member
 *       {"name": NAME, "key": HEX} to put under the manifest's `witnesses.members`;
 *   tallyboard witness --board URL --key FILE --state DIR [--fingerprint HEX] [--poll-ms N] [--once]
 *       follows the ballot server at URL: verifies each new checkpoint's entries with the
 *       auditor, its consistency with the last checkpoint this witness cosigned (RFC 9162),
 *       cosigns it (rules W1–W5, state in DIR persisted first) and posts the cosignature.
 *       Exit 0 with --once after one round; 2 on an alarm (the board contradicts itself or
 *       what this witness cosigned, or fails the audit), with a line `ALARM: …`.
 */
import type { Command } from 'commander';
import { TallyError, isTallyError } from '../src/errors.js';
import { action } from './_common.js';
import { createWitnessKeyFile, loadWitnessKeyFile, witnessManifestMember } from '../src/witness/key-file.js';
import { WitnessCosigner } from '../src/witness/cosigner.js';
import { BoardHttp, WitnessFollower, fetchElection } from '../src/witness/follower.js';

export function register(program: Command): void {
  const w = program
    .command('witness')
    .description('a witness: verify the live board and cosign its checkpoints (spec §9.9, §11.6)')
    .option('--board <url>', 'the ballot server, e.g. http://127.0.0.1:8080')
    .option('--key <file>', 'the witness key file (tallyboard witness keygen)')
    .option('--state <dir>', "the witness's state directory: a safety record, back it up, never delete it")
    .option('--fingerprint <hex>', 'the election fingerprint to expect (refuse another election)')
    .option('--poll-ms <n>', 'pause between rounds, in ms (default 2000)', '2000')
    .option('--once', 'one round, then exit')
    .action(
      action(async (opts: { board?: string; key?: string; state?: string; fingerprint?: string; pollMs: string; once?: boolean }) => {
        if (!opts.board || !opts.key || !opts.state) throw new TallyError('MALFORMED', 'witness: --board, --key and --state are required (or use `witness keygen`)');
        const pollMs = Number(opts.pollMs);
        if (!Number.isSafeInteger(pollMs) || pollMs < 10 || pollMs > 3_600_000) throw new TallyError('OUT_OF_RANGE', '--poll-ms: an integer in [10, 3600000]');
        const key = loadWitnessKeyFile(opts.key);
        const http = new BoardHttp(opts.board);
        const election = await fetchElection(http, opts.fingerprint);
        const cosigner = WitnessCosigner.open({ dir: opts.state, key, electionId: election.manifest.electionId, boardPublicKey: election.boardKey });
        const follower = new WitnessFollower(http, election, key, cosigner);
        process.stderr.write(`witness ${key.name}: following ${opts.board} (election ${election.manifest.electionId}, fingerprint ${election.fingerprintHex})\n`);
        for (;;) {
          let r;
          try {
            r = await follower.round();
          } catch (e) {
            if (!isTallyError(e, 'BOARD_UNAVAILABLE')) throw e;
            process.stderr.write(`witness ${key.name}: ${e.message}; retrying\n`);
            r = undefined;
          }
          if (r?.kind === 'alarm') {
            process.stdout.write(`ALARM: ${r.reason}\n`);
            return 2;
          }
          if (r?.kind === 'cosigned') process.stdout.write(`cosigned the checkpoint of size ${r.treeSize}${r.posted ? '' : ' (not posted: the ballot server is unreachable; will retry)'}\n`);
          if (opts.once) return 0;
          await new Promise((res) => setTimeout(res, pollMs));
        }
      }),
    );
  w.command('keygen')
    .description('create a witness key file and print its manifest member')
    .requiredOption('--name <name>', 'the witness name (e.g. witness.example.org/w1)')
    .requiredOption('--out <file>', 'where to write the key file (0600; never overwritten)')
    .action(
      action(async (opts: { name: string; out: string }) => {
        const k = createWitnessKeyFile(opts.out, opts.name);
        process.stdout.write(`${JSON.stringify(witnessManifestMember(k))}\n`);
      }),
    );
}
