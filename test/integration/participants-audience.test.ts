/**
 * The host's Listeners panel follows the audience (issue 11, flaw 1): the moderators' `participants`
 * event used to be sent on membership changes only, so its count and listener sample froze between
 * them (the header said "1 listening", the panel 0), and right after an approval it listed the new
 * speaker as a listener, from an edge report of a moment before, until the next membership change.
 * Now the stream sends a fresh `participants` when the edges' count or sample change (within about
 * 2 s: one edge report, one check), and nobody on stage is ever in the listener sample.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Participants } from '../../src/client/index.js';
import { pollState, type StatePoller } from '../support/listener-poll.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { openEvents, type SseStream } from '../support/sse.js';

/** One edge report (1 s), the stream's check (0.5 s) and its debounce (0.1 s), with slack. */
const FOLLOW_MS = 3000;

describe("the host's Listeners panel follows the live count (issue 11, flaw 1)", () => {
  let server: TribuneHandle;
  let space: TestSpace;
  let host: SseStream | undefined;
  const pollers: StatePoller[] = [];

  beforeAll(async () => {
    server = await startTribune();
    space = await createSpace(server.url, 'Panel');
  }, 60_000);

  afterAll(async () => {
    host?.close();
    await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
    await server?.stop();
  });

  it('pushes the count as listeners come and go, and never lists a stage member as a listener', async () => {
    host = openEvents(server.url, space.hostClient, space.id);
    await host.opened;
    const first = await host.waitFor<Participants>('participants', () => true);
    expect(first.data.listeners).toBe(0);

    // An anonymous listener arrives: the panel hears of it without any membership change.
    const t0 = Date.now();
    pollers.push(pollState(server.url, space, 'anon-listener-0001'));
    const counted = await host.waitFor<Participants>('participants', (p) => p.listeners === 1, {
      timeoutMs: 10_000,
      what: 'a participants event counting the anonymous listener',
    });
    console.log(`participants: 1 listener pushed ${counted.atMs - t0} ms after it started polling`);
    expect(counted.atMs - t0).toBeLessThan(FOLLOW_MS);

    // A signed-in fan listens (in the edges' sample), then asks to speak and is approved.
    const fan = await signedInClient(server.url, 'fan');
    const fanId = (await fan.me()).user!.id;
    const fanPoll = pollState(server.url, space, 'fan-listener-0001', (await fan.listen(space.id)).token);
    pollers.push(fanPoll);
    await host.waitFor<Participants>(
      'participants',
      (p) => p.listeners === 2 && p.listenerSample.some((u) => u.id === fanId),
      { timeoutMs: 10_000, what: 'the fan counted and in the sample' },
    );
    await fan.requestToSpeak(space.id);
    const mark = host.events.length;
    const tApprove = Date.now();
    await space.hostClient.approveRequest(space.id, fanId);
    // What the fan's page does on stage: it stops polling the state document and says goodbye.
    await fanPoll.stop();
    pollers.splice(pollers.indexOf(fanPoll), 1);
    const onStage = (p: Participants) => p.members.some((m) => m.user.id === fanId && m.role === 'speaker');

    // GET /participants right after the approval: the edges still report the fan, the panel does not.
    const now = await space.hostClient.participants(space.id);
    expect(onStage(now)).toBe(true);
    expect(now.listenerSample.map((u) => u.id)).not.toContain(fanId);

    const settled = await host.waitFor<Participants>('participants', (p) => onStage(p) && p.listeners === 1, {
      from: mark,
      timeoutMs: 10_000,
      what: 'the count back to 1 once the fan is on stage',
    });
    console.log(`participants: back to 1 listener ${settled.atMs - tApprove} ms after the approval`);
    expect(settled.atMs - tApprove).toBeLessThan(FOLLOW_MS);
    const withFanOnStage = host.of<Participants>('participants', mark).filter((e) => onStage(e.data));
    expect(withFanOnStage.length).toBeGreaterThan(0);
    for (const e of withFanOnStage) expect(e.data.listenerSample.map((u) => u.id)).not.toContain(fanId);
  }, 60_000);
});
