import { describe, expect, it } from 'vitest';
import { deployCommand, shellQuote, tokenNameError, typedMatches } from './settings';

describe('typedMatches', () => {
  it.each([
    ['blog', 'blog', true],
    ['  blog ', 'blog', true],
    ['', 'blog', false],
    ['blo', 'blog', false],
    ['blogs', 'blog', false],
    ['Blog', 'blog', false],
    ['BLOG', 'blog', false],
    ['b log', 'blog', false],
    ['my-site', 'my-site', true],
    ['my_site', 'my-site', false],
    ['', '', false],
    [' ', '', false],
  ])('%j against %j → %s', (typed, expected, want) => expect(typedMatches(typed, expected)).toBe(want));
});

describe('tokenNameError', () => {
  it.each([
    ['GitHub Actions', false],
    ['x', false],
    ['ü'.repeat(100), false], // 200 bytes
    ['a'.repeat(200), false],
    ['', true],
    ['   ', true],
    ['a'.repeat(201), true],
    ['ü'.repeat(101), true], // 202 bytes
  ])('%j refused: %s', (name, refused) => expect(tokenNameError(name) !== '').toBe(refused));
});

describe('deployCommand', () => {
  it('is the CLI line with the secret, the site and the API', () => {
    expect(deployCommand('pier_AbC-d_9', 'blog', 'http://127.0.0.1:8081')).toBe(
      'PIER_TOKEN=pier_AbC-d_9 pier deploy ./dist --site blog --api http://127.0.0.1:8081',
    );
  });
  it('takes another folder', () => {
    expect(deployCommand('pier_x', 'docs', 'https://console.example.net', 'public')).toBe(
      'PIER_TOKEN=pier_x pier deploy public --site docs --api https://console.example.net',
    );
  });
  it('quotes what a shell would split', () => {
    expect(deployCommand('pier_x', 'blog', 'http://h', 'my site')).toContain(" pier deploy 'my site' ");
  });
});

describe('shellQuote', () => {
  it.each([
    ['plain', 'plain'],
    ['http://127.0.0.1:8081', 'http://127.0.0.1:8081'],
    ['', "''"],
    ['a b', "'a b'"],
    ['$HOME', "'$HOME'"],
    ["it's", "'it'\\''s'"],
  ])('%j → %s', (s, want) => expect(shellQuote(s)).toBe(want));
});

describe('flash', () => {
  it('is taken once', async () => {
    const { flash, takeFlash } = await import('./flash');
    expect(takeFlash()).toBeUndefined();
    flash('Deleted site blog.');
    expect(takeFlash()).toBe('Deleted site blog.');
    expect(takeFlash()).toBeUndefined();
  });
});
