/** The header's search box ("Search Spaces"): Enter opens `/search?q=`. */
import { useEffect, useState, type FormEvent } from 'react';
import { navigate, useLocation } from '../router.js';
import '../social.css';

export const SEARCH_MAX = 200;

export const searchPath = (q: string): string => `/search?q=${encodeURIComponent(q)}`;

export function SearchBox({ testId = 'search-input' }: { testId?: string }) {
  const { pathname, search } = useLocation();
  const current = pathname === '/search' ? (new URLSearchParams(search).get('q') ?? '') : '';
  const [q, setQ] = useState(current);
  useEffect(() => setQ(current), [current]);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const text = q.trim();
    if (text) navigate(searchPath(text));
  };
  return (
    <form className="search-form" role="search" onSubmit={submit} data-testid="search-form">
      <input
        type="search"
        className="search-input"
        aria-label="Search Spaces"
        placeholder="Search Spaces"
        value={q}
        maxLength={SEARCH_MAX}
        onChange={(e) => setQ(e.target.value)}
        enterKeyHint="search"
        data-testid={testId}
      />
    </form>
  );
}
