/**
 * `tribune rehearse` against a real server (one process: origin + built-in edge with admission,
 * capped at 50 listeners): the rehearsal token check (refused without a token, with a forged or an
 * expired one, by the runner and by the CLI, exit 2) and a small real rehearsal: 200 listeners at
 * once, 50 admitted and playing with no gap, 150 queued with positions that only go down, then the
 * cap raised and everyone admitted in ticket order.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRehearsalToken } from '../../src/edge/admission/tokens.js';
import { checkRehearsal, setAdmissionLimits } from '../../src/ops/rehearse/edge-api.js';
import { RehearsalRefusedError, runRehearsal } from '../../src/ops/rehearse/run.js';
import {
  REPO_ROOT,
  createSpace,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { NodeWhipClient } from '../support/whip-client.js';

const run = promisify(execFile);
const CAP = 50;

/** Runs `tribune <args>` from source; resolves with the exit code and output (never rejects). */
async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe('tribune rehearse', () => {
  let server: TribuneHandle;
  let space: TestSpace;
  let secret: Buffer;
  const speaker = new NodeWhipClient({ record: false, receive: false });

  beforeAll(async () => {
    server = await startTribune({ env: { TRIBUNE_EDGE_MAX_LISTENERS: String(CAP) } });
    secret = Buffer.from(readFileSync(path.join(server.dataDir, 'secret'), 'utf8').trim(), 'hex');
    space = await createSpace(server.url, 'rehearsal');
    await speaker.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'tone'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
      timeoutMs: 30_000,
    });
  });

  afterAll(async () => {
    speaker.abruptClose();
    await server?.stop();
  });

  it('is refused without a token, with a forged one and with an expired one', async () => {
    const refusal = async (token: string): Promise<RehearsalRefusedError> => {
      const err = await runRehearsal({ target: server.url, space: space.id, token, progress: false }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RehearsalRefusedError);
      return err as RehearsalRefusedError;
    };
    expect(await refusal('')).toMatchObject({ code: 'REHEARSAL_TOKEN_REQUIRED', status: 401 });
    const forged = issueRehearsalToken(Buffer.from('not the deployment secret'), 600, 'forged');
    expect(await refusal(forged)).toMatchObject({ code: 'REHEARSAL_TOKEN_INVALID', status: 403 });
    expect(await refusal('garbage.token')).toMatchObject({ code: 'REHEARSAL_TOKEN_INVALID', status: 403 });
    const expired = issueRehearsalToken(secret, 60, 'old', Date.now() - 120_000);
    expect(await refusal(expired)).toMatchObject({ code: 'REHEARSAL_TOKEN_EXPIRED', status: 403 });
    // no listener was admitted by any of these
    const stats = (await (
      await fetch(`${server.url}/hls/admission`, {
        headers: { 'x-tribune-rehearsal': issueRehearsalToken(secret, 60) },
      })
    ).json()) as { issued: number; admitted: number };
    expect(stats.admitted).toBe(0);
  });

  it('the CLI exits 2 naming the refusal; a token from rehearsal-token is accepted', async () => {
    const none = await cli(['rehearse', '--target', server.url, '--space', space.id, '--listeners', '5']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('REHEARSAL_TOKEN_REQUIRED');
    const forged = issueRehearsalToken(Buffer.from('someone else'), 600);
    const bad = await cli(['rehearse', '--target', server.url, '--space', space.id, '--token', forged]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('REHEARSAL_TOKEN_INVALID');
    const tooMany = await cli([
      'rehearse',
      '--target',
      server.url,
      '--space',
      space.id,
      '--listeners',
      '2000000',
    ]);
    expect(tooMany.code).toBe(2);

    const issued = await cli(
      ['rehearsal-token', '--ttl', '120', '--note', 'test', '--data-dir', server.dataDir],
      {
        TRIBUNE_TOKEN_SECRET: '',
      },
    );
    expect(issued.code).toBe(0);
    const token = issued.out.trim().split('\n').at(-1)!;
    expect(await checkRehearsal(server.url, token)).toMatchObject({ ok: true });
    const noSecret = await cli(
      ['rehearsal-token', '--data-dir', path.join(tmpdir(), 'tribune-no-such-dir')],
      {
        TRIBUNE_TOKEN_SECRET: '',
      },
    );
    expect(noSecret.code).toBe(2);
    expect(noSecret.err).toContain('TRIBUNE_TOKEN_SECRET');
  });

  it('200 listeners at once at an edge capped at 50: 50 play, 150 wait honestly, then all admitted in order', async () => {
    const token = issueRehearsalToken(secret, 600, 'test');
    let phase1: Awaited<ReturnType<typeof runRehearsal>> | undefined;
    const report = await runRehearsal({
      target: server.url,
      space: space.id,
      token,
      profile: 'step',
      listeners: 200,
      holdSeconds: 2,
      progress: false,
      onReady: async (ctl) => {
        await new Promise((r) => setTimeout(r, 3000)); // the surge
        phase1 = { ...(await ctl.snapshot()) };
        await setAdmissionLimits(server.url, token, { maxListeners: 1000 });
        ctl.mark('cap raised');
        await ctl.waitFor((c) => c.queued === 0, 40_000);
      },
    });
    expect(phase1).toMatchObject({ arrivals: 200, cap: CAP, admitted: CAP, errors: 0, http_5xx: 0 });
    expect(phase1!.queued_max).toBe(150);
    expect(phase1!.played).toBe(CAP);
    expect(phase1!.admitted_gaps_over_1s).toBe(0);
    expect(phase1!.first_audio_p99_ms).toBeLessThan(2000);
    expect(phase1!.positions_monotonic).toBe(true);

    expect(report).toMatchObject({ arrivals: 200, admitted: 200, errors: 0, http_5xx: 0, failed: 0 });
    expect(report.errors_by_code).toEqual({});
    expect(report.positions_monotonic).toBe(true);
    expect(report.admitted_in_order).toBe(true);
    expect(report.admit_wait_ms.n).toBe(150);
    expect(report.admitted_gaps_over_1s).toBe(0);
    expect(report.timeline.length).toBeGreaterThan(3);
  });
});
