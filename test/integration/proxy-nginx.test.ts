/**
 * nginx (Debian 1.22) in front of a standalone edge, started from deploy/nginx/tribune-edge.conf:
 * the shared proxy checks (test/support/proxy-suite.ts). nginx marks what it cached in
 * X-Proxy-Cache ($upstream_cache_status); locations that do not cache add no such header. Plus
 * what `proxy_cache_use_stale updating` is for, measured with a copy of the config without it.
 */
import { expect, it } from 'vitest';
import { replaceOnce, startNginx } from '../support/proxies.js';
import { expiredPlaylistCrowd, N, verdicts } from '../support/proxy-scenarios.js';
import { proxySuite } from '../support/proxy-suite.js';

proxySuite({
  name: 'nginx',
  start: (edgePort) => startNginx(edgePort),
  passed: ['', 'BYPASS'],
  // Requests waiting on proxy_cache_lock re-check every 500 ms.
  waiterLagMaxMs: 750,
  countsAge: false,
  more: (ctx) => {
    it('without proxy_cache_use_stale updating, a crowd asking for an expired playlist reaches the edge', async () => {
      const { stack, client } = ctx();
      const variant = await startNginx(stack.edge.port, (conf) =>
        replaceOnce(
          conf,
          'proxy_cache_use_stale updating;',
          'proxy_cache_use_stale off;',
          'tribune-edge.conf',
        ),
      );
      try {
        const crowd = await expiredPlaylistCrowd(stack, variant.url, client);
        console.log(
          `nginx without proxy_cache_use_stale updating: ${N} requests for the expired playlist -> ${crowd.edgeRequests} edge requests (${verdicts(crowd.answers)})`,
        );
        expect(crowd.edgeRequests).toBeGreaterThan(1);
      } finally {
        await variant.stop();
      }
    });
  },
});
