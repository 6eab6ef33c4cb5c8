import { describe, expect, it } from 'vitest';
import { absoluteTime, displayURL, matches, plural, relativeTime } from './format';

describe('displayURL', () => {
  it.each([
    ['https://blog.example.com/', 'blog.example.com'],
    ['http://blog.localhost:8080/', 'blog.localhost:8080'],
    ['https://example.com/docs/', 'example.com/docs/'],
    ['not a url', 'not a url'],
  ])('%s → %s', (url, want) => expect(displayURL(url)).toBe(want));
});

describe('relativeTime', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  it.each([
    ['2026-12-05T11:59:50Z', 'just now'],
    ['2026-12-05T11:55:00Z', '5 minutes ago'],
    ['2026-12-05T09:00:00Z', '3 hours ago'],
    ['2026-12-04T12:00:00Z', 'yesterday'],
    ['2026-11-20T12:00:00Z', '2 weeks ago'],
    ['2026-12-07T12:00:00Z', 'in 2 days'],
    ['garbage', ''],
    [undefined, ''],
  ])('%s → %s', (iso, want) => expect(relativeTime(iso, now)).toBe(want));
});

describe('absoluteTime', () => {
  it('shows UTC to the minute', () => expect(absoluteTime('2026-12-05T08:15:42.123Z')).toBe('2026-12-05 08:15 UTC'));
  it('is empty for an invalid time', () => expect(absoluteTime('x')).toBe(''));
});

describe('plural', () => {
  it.each([
    [0, '0 sites'],
    [1, '1 site'],
    [1200, '1,200 sites'],
  ])('%d → %s', (n, want) => expect(plural(n, 'site')).toBe(want));
});

describe('matches', () => {
  it('matches any field, ignoring case and surrounding space', () => {
    expect(matches('  BLOG ', 'my-blog', 'acme')).toBe(true);
    expect(matches('acme', 'my-blog', 'acme')).toBe(true);
    expect(matches('shop', 'my-blog', undefined)).toBe(false);
  });
  it('matches everything for an empty search', () => expect(matches('', 'x')).toBe(true));
});
