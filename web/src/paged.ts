// Paged lists: the console's one way to load a list endpoint a page at a
// time (Load more appends the page after next_cursor), with its loading,
// error and "not found" states. The pure parts are plain functions,
// tested in paged.test.ts; usePagedList is the hook the pages use.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Page } from './api';
import { errorMessage } from './errors';

/** The list after a page arrived: appended after a cursor, else the first page alone. */
export function mergePage<T>(prev: T[], page: Page<T>, cursor?: string): T[] {
  return cursor ? [...prev, ...page.items] : page.items;
}

/** What a failed load means for the list. */
export type Failure = { kind: 'unauthorized' } | { kind: 'missing' } | { kind: 'error'; message: string };

/**
 * Classifies a failed load: a 401 ends the session; a 404 is "missing"
 * (the list's owner is gone) when missingOn404, else an error like any
 * other, in the words message gives.
 */
export function loadFailure(err: unknown, missingOn404: boolean, message: (err: unknown) => string = errorMessage): Failure {
  if (err instanceof ApiError && err.status === 404 && missingOn404) return { kind: 'missing' };
  if (err instanceof ApiError && err.unauthorized) return { kind: 'unauthorized' };
  return { kind: 'error', message: message(err) };
}

/** How many pages of pageSize hold the count items loaded so far (at least one). */
export function pagesLoaded(count: number, pageSize: number): number {
  return Math.max(1, Math.ceil(count / pageSize));
}

/** Fetches up to pages pages from the first; the items and the cursor after the last one fetched. */
export async function fetchPages<T>(fetchPage: (cursor?: string) => Promise<Page<T>>, pages: number): Promise<Page<T>> {
  let items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < pages; i++) {
    const page = await fetchPage(cursor);
    items = items.concat(page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { items, next_cursor: cursor };
}

export interface PagedOptions {
  /** Called on a 401 (nothing else is shown then). */
  onUnauthorized: () => void;
  /** A 404 sets missing (and calls onMissing) instead of error. */
  missingOn404?: boolean;
  onMissing?: () => void;
  /** Called with the message of each failed load, besides setting error. */
  onError?: (message: string) => void;
  /** The words for a failed load (default: the error's message). */
  message?: (err: unknown) => string;
  /** False: the list is not loaded (default true). */
  enabled?: boolean;
  /** Keep the items shown while a change of deps reloads the list (default: start again from none). */
  keepItems?: boolean;
  /** The page size fetchPage asks for: how refresh knows how many pages are loaded (without it, one). */
  pageSize?: number;
}

export interface PagedList<T> {
  items: T[];
  setItems: (update: T[] | ((prev: T[]) => T[])) => void;
  /** The cursor of the next page; undefined on the last page. */
  next: string | undefined;
  loading: boolean;
  /** The message of the last failed load, '' when there is none. */
  error: string;
  setError: (message: string) => void;
  /** True after a 404 with missingOn404. */
  missing: boolean;
  setMissing: (missing: boolean) => void;
  /** Appends the next page. */
  loadMore: () => Promise<void>;
  /** Loads the first page again, replacing the list. */
  reload: () => Promise<void>;
  /** Loads again every page loaded so far (throws what fetchPage throws); the new list. */
  refresh: () => Promise<T[]>;
}

/**
 * A list loaded a page at a time with fetchPage(cursor): the first page
 * when deps change, the next on loadMore.
 */
export function usePagedList<T>(
  fetchPage: (cursor?: string) => Promise<Page<T>>,
  deps: unknown[],
  options: PagedOptions,
): PagedList<T> {
  const enabled = options.enabled ?? true;
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(enabled);
  const [error, setError] = useState('');
  const [missing, setMissing] = useState(false);
  // The latest render's fetchPage, options and items, for calls made after an await.
  const latest = useRef({ fetchPage, options, items });
  latest.current = { fetchPage, options, items };

  async function load(cursor?: string) {
    const { fetchPage, options } = latest.current;
    setLoading(true);
    setError('');
    try {
      const page = await fetchPage(cursor);
      setItems((prev) => mergePage(prev, page, cursor));
      setNext(page.next_cursor);
    } catch (err) {
      const f = loadFailure(err, !!options.missingOn404, options.message);
      if (f.kind === 'unauthorized') options.onUnauthorized();
      else if (f.kind === 'missing') {
        setMissing(true);
        options.onMissing?.();
      } else {
        setError(f.message);
        options.onError?.(f.message);
      }
    } finally {
      setLoading(false);
    }
  }

  async function refresh(): Promise<T[]> {
    const { fetchPage, options, items } = latest.current;
    const all = await fetchPages(fetchPage, pagesLoaded(items.length, options.pageSize ?? Infinity));
    setItems(all.items);
    setNext(all.next_cursor);
    return all.items;
  }

  useEffect(() => {
    if (!enabled) return;
    if (!options.keepItems) setItems([]);
    setMissing(false);
    load();
  }, deps);

  return {
    items,
    setItems,
    next,
    loading,
    error,
    setError,
    missing,
    setMissing,
    loadMore: () => load(next),
    reload: () => load(),
    refresh,
  };
}
