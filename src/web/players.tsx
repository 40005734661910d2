/** The players, loaded on demand: hls.js is most of the bundle and only playback needs it. */
import { lazy, Suspense } from 'react';
import type { LivePlayerProps, VodPlayerProps } from './player.js';

const LiveLazy = lazy(() => import('./player.js').then((m) => ({ default: m.LivePlayer })));
const VodLazy = lazy(() => import('./player.js').then((m) => ({ default: m.VodPlayer })));

function PlayerSkeleton() {
  return <div className="skeleton skeleton-player" aria-label="Loading player" />;
}

export function LivePlayer(props: LivePlayerProps) {
  return (
    <Suspense fallback={<PlayerSkeleton />}>
      <LiveLazy {...props} />
    </Suspense>
  );
}

export function VodPlayer(props: VodPlayerProps) {
  return (
    <Suspense fallback={<PlayerSkeleton />}>
      <VodLazy {...props} />
    </Suspense>
  );
}
