/**
 * Varnish (Debian 7.1) in front of a standalone edge, started from deploy/varnish/tribune.vcl:
 * the shared proxy checks (test/support/proxy-suite.ts); stream.mp4 is piped; and what the short
 * hit-for-miss is for, measured with a copy of the VCL that keeps the builtin's 120 s.
 */
import { expect, it } from 'vitest';
import { replaceOnce, startVarnish } from '../support/proxies.js';
import { N, tooEarlyThenCrowd, verdicts } from '../support/proxy-scenarios.js';
import { proxySuite } from '../support/proxy-suite.js';

let stat: ((name: string) => number) | undefined;

proxySuite({
  name: 'varnish',
  start: async (edgePort) => {
    const v = await startVarnish(edgePort);
    stat = v.stat;
    return v;
  },
  passed: ['PASS', 'HITMISS'],
  // The waiting list hands the object to every waiter the moment it arrives.
  waiterLagMaxMs: 250,
  countsAge: true,
  more: (ctx) => {
    it('pipes stream.mp4', () => {
      // Every stream.mp4 request of the shared checks (1 played, 3 admitted, 1 refused).
      expect(stat!('MAIN.s_pipe')).toBe(5);
    });

    it("with the builtin's 120 s hit-for-miss, a reload refused as too early is not collapsed once valid", async () => {
      const { stack, client } = ctx();
      const variant = await startVarnish(stack.edge.port, (vcl) =>
        replaceOnce(
          vcl,
          '            set beresp.ttl = 1s;',
          '            set beresp.ttl = 120s;',
          'tribune.vcl',
        ),
      );
      try {
        const { answers, edgeRequests } = await tooEarlyThenCrowd(stack, variant.url, client);
        console.log(
          `varnish with a 120 s hit-for-miss: reload refused as too early, then asked by ${N} at once -> ${edgeRequests} edge requests (${verdicts(answers)})`,
        );
        expect(edgeRequests).toBe(N);
      } finally {
        await variant.stop();
      }
    });
  },
});
