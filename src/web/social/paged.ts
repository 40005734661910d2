/**
 * A paged list from the API (`nextCursor`): the first page on mount (again when `key` changes),
 * more on demand.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { toApiError, type ApiError } from '../api.js';

export interface Paged<T> {
  items: T[] | null;
  error: ApiError | null;
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => void;
  /** Replaces one item (e.g. after Subscribe). */
  patch: (fn: (t: T) => T) => void;
}

export function usePaged<T>(
  key: string | null,
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Paged<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const gen = useRef(0);

  useEffect(() => {
    const mine = ++gen.current;
    setItems(null);
    setError(null);
    setCursor(null);
    if (key === null) return;
    fetchRef.current(undefined).then(
      (p) => {
        if (gen.current !== mine) return;
        setItems(p.items);
        setCursor(p.nextCursor);
      },
      (err: unknown) => {
        if (gen.current === mine) setError(toApiError(err));
      },
    );
  }, [key]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore) return;
    const mine = gen.current;
    setLoadingMore(true);
    fetchRef.current(cursor).then(
      (p) => {
        if (gen.current !== mine) return;
        setItems((cur) => [...(cur ?? []), ...p.items]);
        setCursor(p.nextCursor);
        setLoadingMore(false);
      },
      (err: unknown) => {
        if (gen.current !== mine) return;
        setError(toApiError(err));
        setLoadingMore(false);
      },
    );
  }, [cursor, loadingMore]);

  const patch = useCallback((fn: (t: T) => T) => setItems((cur) => cur && cur.map(fn)), []);

  return { items, error, hasMore: !!cursor, loadingMore, loadMore, patch };
}
