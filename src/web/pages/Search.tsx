/** `/search?q=`: Spaces by title and host (live first, then upcoming, then past), paged. */
import { useCallback } from 'react';
import { client, type SpaceView } from '../api.js';
import { ErrorBox } from '../components.js';
import { usePaged } from '../social/paged.js';
import { SpaceCard } from '../social/SpaceCard.js';
import { useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

export function SearchPage({ q }: { q: string }) {
  usePageHooks('search', q);
  const { ready, user } = useSession();
  const query = q.trim();
  const fetchPage = useCallback(
    async (cursor: string | undefined) => {
      const p = await client.search(query, { cursor });
      return { items: p.spaces, nextCursor: p.nextCursor };
    },
    [query],
  );
  const list = usePaged<SpaceView>(query && ready ? `${query}|${user?.id ?? ''}` : null, fetchPage);

  return (
    <div className="page" data-testid="search-page">
      <section className="section" aria-labelledby="search-title">
        <div className="section-head">
          <h1 id="search-title" className="search-title">
            {query ? <>Results for “{query}”</> : 'Search Spaces'}
          </h1>
        </div>
        {!query && <p className="muted">Type a title, a host's name or their @handle in the search box.</p>}
        {list.error && <ErrorBox error={list.error} title="Can't search right now" />}
        {query && !list.items && !list.error && <div className="skeleton" aria-label="Searching" />}
        {list.items && list.items.length === 0 && (
          <p className="muted empty" data-testid="search-empty" role="status">
            No Spaces match “{query}”.
          </p>
        )}
        {list.items && list.items.length > 0 && (
          <ul className="space-list" data-testid="search-results" aria-label="Results">
            {list.items.map((s) => (
              <SpaceCard key={s.id} space={s} onChange={(v) => list.patch((x) => (x.id === v.id ? v : x))} />
            ))}
          </ul>
        )}
        {list.hasMore && (
          <button
            type="button"
            className="btn btn-small btn-ghost load-more"
            onClick={list.loadMore}
            disabled={list.loadingMore}
            data-testid="load-more"
          >
            {list.loadingMore ? 'Loading…' : 'More results'}
          </button>
        )}
      </section>
    </div>
  );
}
