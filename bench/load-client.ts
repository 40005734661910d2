/**
 * Load generator child process for bench/run.ts: N Spaces x M Node WHIP speakers (+ optional LL-HLS
 * listeners), kept apart from the bench process so the bench's own CPU is not counted as the server's.
 *
 * Protocol: config as JSON in argv[2]; JSON lines on stdout ({type:'ready'|'stopped'|'error', ...});
 * stops (DELETE every speaker) when stdin gets "stop" or closes (so it dies with its parent).
 */
import { LlHlsListener } from '../test/support/llhls-client.js';
import { edgeMasterUrl, whipUrlFor } from '../test/support/server.js';
import { ToneGenerator } from '../test/support/tone.js';
import { NodeWhipClient, frameClock } from '../test/support/whip-client.js';

export interface LoadSpace {
  id: string;
  /** the host's WHIP token: speaker 0 */
  hostToken: string;
  /** WHIP tokens of the other users on stage (co-hosts and speakers): speakers 1.. */
  speakerTokens: string[];
}

export interface LoadConfig {
  url: string;
  spaces: LoadSpace[];
  speakersPerSpace: number;
  /** one LL-HLS listener per Space through the edge */
  listeners: boolean;
  /** parallel WHIP publishes */
  concurrency?: number;
  /** name prefix, to tell processes apart in server logs */
  tag?: string;
}

export type LoadMessage =
  | { type: 'progress'; speakers: number; failed: number }
  | { type: 'ready'; speakers: number; failed: number; listeners: number; errors: string[]; halted: boolean }
  | { type: 'stopped'; deleted: number; clockSkipped: number; partsReceived: number }
  | { type: 'error'; message: string };

function send(msg: LoadMessage): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
  const clients: NodeWhipClient[] = [];
  const listeners: LlHlsListener[] = [];
  let parts = 0;
  const errors: string[] = [];
  let failed = 0;

  let stopping = false;
  let halted = false;
  let connected = 0;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all(listeners.map((l) => l.stop()));
    const statuses = await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    send({
      type: 'stopped',
      deleted: statuses.filter((s) => s !== undefined && s < 300).length,
      clockSkipped: frameClock.skipped,
      partsReceived: parts,
    });
    process.exit(0);
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    if (d.includes('halt')) halted = true;
    if (d.includes('stop')) void stop();
  });
  process.stdin.on('end', () => void stop());
  process.on('SIGTERM', () => void stop());

  const jobs: (() => Promise<void>)[] = [];
  cfg.spaces.forEach((space, s) => {
    for (let i = 0; i < cfg.speakersPerSpace; i++) {
      jobs.push(async () => {
        // distinct tones per speaker, low level so 13 of them do not clip the mix
        const tone = new ToneGenerator({ freqHz: 300 + 110 * i, amplitude: 0.05 });
        const client = new NodeWhipClient({ record: false, receive: false });
        clients.push(client);
        try {
          // each user on stage has their own token
          const token = i === 0 ? space.hostToken : space.speakerTokens[i - 1];
          if (!token) throw new Error(`no WHIP token for speaker ${i} of Space ${space.id}`);
          await client.publish({
            whipUrl: whipUrlFor(cfg.url, space.id, `${cfg.tag ?? 'load'}-s${s}-${i}`),
            token,
            source: tone,
            timeoutMs: 30_000,
          });
          connected++;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(String(err));
        }
        send({ type: 'progress', speakers: connected, failed });
      });
    }
  });
  const concurrency = cfg.concurrency ?? 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length && !stopping && !halted) await jobs[next++]();
    }),
  );
  if (cfg.listeners) {
    for (const space of cfg.spaces) {
      const l = new LlHlsListener({
        masterUrl: edgeMasterUrl(cfg.url, space.id),
        keepLog: false,
        onPcm: () => {
          parts++;
        },
      });
      l.done.catch((err: unknown) => {
        if (!stopping && errors.length < 10) errors.push(`listener ${space.id}: ${String(err)}`);
      });
      listeners.push(l);
    }
    await Promise.all(
      listeners.map((l) => Promise.race([l.started, new Promise((r) => setTimeout(r, 10_000))])),
    );
  }
  send({ type: 'ready', speakers: connected, failed, listeners: listeners.length, errors, halted });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String(err) });
  process.exit(1);
});
