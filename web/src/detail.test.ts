import { describe, expect, it } from 'vitest';
import type { Domain } from './api';
import {
  attentionItem,
  budget,
  configItems,
  fileRows,
  fileSize,
  filterFiles,
  FILES_PAGE,
  limitsText,
  sentence,
  siteNameError,
  totalBytes,
  visibleFiles,
} from './detail';
import { activateAction } from './components/ActivateDialog';

const manifest = {
  '/index.html': { hash: 'aa', size: 100, content_type: 'text/html; charset=utf-8', br_size: 40, gz_size: 50 },
  '/about/index.html': { hash: 'bb', size: 2048, content_type: 'text/html; charset=utf-8' },
  '/img/logo.png': { hash: 'cc', size: 5000, content_type: 'image/png' },
  '/app.js': { hash: 'dd', size: 1 },
};

describe('fileRows', () => {
  it('sorts by path and keeps the entries', () => {
    const rows = fileRows(manifest);
    expect(rows.map((r) => r.path)).toEqual(['/about/index.html', '/app.js', '/img/logo.png', '/index.html']);
    expect(rows[3]).toEqual({ path: '/index.html', ...manifest['/index.html'] });
  });
  it('is empty without a manifest', () => {
    expect(fileRows(undefined)).toEqual([]);
    expect(fileRows({})).toEqual([]);
  });
});

describe('filterFiles', () => {
  const rows = fileRows(manifest);
  const paths = (f: string) => filterFiles(rows, f).map((r) => r.path);
  it.each([
    ['empty keeps all', '', ['/about/index.html', '/app.js', '/img/logo.png', '/index.html']],
    ['blank keeps all', '   ', ['/about/index.html', '/app.js', '/img/logo.png', '/index.html']],
    ['a path part', 'index', ['/about/index.html', '/index.html']],
    ['case-insensitive', 'LOGO', ['/img/logo.png']],
    ['a content type', 'image/', ['/img/logo.png']],
    ['every word must match', 'html about', ['/about/index.html']],
    ['nothing', 'zzz', []],
  ])('%s', (_name, filter, want) => {
    expect(paths(filter as string)).toEqual(want);
  });
});

describe('visibleFiles', () => {
  const many = Array.from({ length: 1000 }, (_, i) => ({ path: `/f${String(i).padStart(4, '0')}`, hash: 'h', size: 1 }));
  it('shows one page of a long list and counts the rest', () => {
    const v = visibleFiles(many, FILES_PAGE, many.length, '');
    expect(v.rows).toHaveLength(200);
    expect(v.rows[0].path).toBe('/f0000');
    expect(v.more).toBe(800);
    expect(v.summary).toBe('1,000 files; showing the first 200');
  });
  it('shows more pages on request, never past the end', () => {
    expect(visibleFiles(many, 400, many.length, '').rows).toHaveLength(400);
    const all = visibleFiles(many, 1200, many.length, '');
    expect(all.rows).toHaveLength(1000);
    expect(all.more).toBe(0);
    expect(all.summary).toBe('1,000 files');
  });
  it('says what a filter matched', () => {
    const f = filterFiles(many, 'f00');
    expect(visibleFiles(f, FILES_PAGE, many.length, ' f00 ').summary).toBe('100 files of 1,000 match “f00”');
    expect(visibleFiles([], FILES_PAGE, many.length, 'x').summary).toBe('0 files of 1,000 match “x”');
  });
  it('renders nothing for a negative window', () => {
    expect(visibleFiles(many, -1, many.length, '').rows).toEqual([]);
  });
});

describe('sizes', () => {
  it('sums and shows the variants', () => {
    expect(totalBytes(fileRows(manifest))).toBe(7149);
    expect(fileSize(manifest['/index.html'])).toBe('100 B (br 40 B, gzip 50 B)');
    expect(fileSize(manifest['/about/index.html'])).toBe('2 KiB');
  });
});

describe('configItems', () => {
  const value = (items: ReturnType<typeof configItems>, term: string) => items.find((i) => i.term === term);
  it('says the defaults in words', () => {
    const items = configItems({ html_handling: 'auto-trailing-slash', not_found_handling: 'none' }, {});
    expect(items.map((i) => i.term)).toEqual(['HTML handling', 'Not-found handling', 'Run worker first', 'Variables', 'Worker']);
    expect(value(items, 'HTML handling')).toEqual({ term: 'HTML handling', value: 'Automatic trailing slash', code: 'auto-trailing-slash' });
    expect(value(items, 'Not-found handling')?.value).toBe('Plain 404 answer');
    expect(value(items, 'Run worker first')?.value).toMatch(/^No/);
    expect(value(items, 'Variables')?.value).toBe('None');
    expect(value(items, 'Worker')?.value).toBe('None: static files only');
  });
  it('lists patterns, exclusions and variables', () => {
    const items = configItems(
      {
        html_handling: 'none',
        not_found_handling: 'single-page-application',
        run_worker_first: ['/api/*', '/auth', '!/api/static/*'],
        vars: { ZED: '1', API_URL: 'https://x' },
      },
      {},
    );
    expect(value(items, 'Run worker first')).toEqual({
      term: 'Run worker first',
      value: 'Paths matching 2 patterns, except 1 exclusion',
      list: ['/api/*', '/auth', '!/api/static/*'],
    });
    expect(value(items, 'Variables')).toEqual({ term: 'Variables', value: '2 variables', list: ['API_URL = https://x', 'ZED = 1'] });
    expect(value(items, 'Not-found handling')?.code).toBe('single-page-application');
  });
  it('says every request for "*"', () => {
    const items = configItems({ html_handling: 'none', not_found_handling: 'none', run_worker_first: ['*'] }, {});
    expect(value(items, 'Run worker first')).toEqual({ term: 'Run worker first', value: 'Every request', code: '*' });
  });
  it('shows the worker with its size and limits', () => {
    const items = configItems(undefined, { hash: 'abc', size: 2048, limits: { cpuMs: 10, subRequests: 5, memoryMB: 64 } });
    expect(value(items, 'Worker')).toEqual({
      term: 'Worker',
      value: '2 KiB WebAssembly · 10 ms CPU · 5 subrequests · 64 MB memory per request',
      code: 'abc',
    });
    expect(value(configItems(undefined, { hash: 'abc' }), 'Worker')?.value).toBe('WebAssembly module');
  });
  it('keeps an unknown value as it is', () => {
    expect(configItems({ html_handling: 'new-mode', not_found_handling: 'none' }, {})[0].value).toBe('new-mode');
  });
});

describe('limitsText', () => {
  it.each([
    ['none', undefined, ''],
    ['empty', {}, ''],
    ['one', { subRequests: 1 }, '1 subrequest per request'],
  ])('%s', (_n, l, want) => expect(limitsText(l)).toBe(want));
});

describe('siteNameError', () => {
  it.each([
    ['a valid name', 'blog', ''],
    ['digits and hyphens', 'my-blog-2', ''],
    ['53 characters', 'a'.repeat(53), ''],
    ['empty', '', 'Enter a site name.'],
    ['54 characters', 'a'.repeat(54), 'at most 53 characters'],
    ['uppercase', 'Blog', 'lowercase'],
    ['an underscore', 'my_blog', "Use only lowercase letters a–z, digits and '-'."],
    ['a space', 'my blog', 'Use only'],
    ['a dot', 'my.blog', 'Use only'],
    ['a leading hyphen', '-blog', "cannot start or end with '-'"],
    ['a trailing hyphen', 'blog-', "cannot start or end with '-'"],
    ['a double hyphen', 'my--blog', "'--'"],
  ])('%s', (_n, name, want) => {
    const got = siteNameError(name);
    if (want === '') expect(got).toBe('');
    else expect(got).toContain(want);
  });
});

function domain(over: Partial<Domain>): Domain {
  return {
    hostname: 'www.example.com',
    site: 'blog',
    site_id: 's_1',
    tenant_id: 't_1',
    status: 'pending',
    token: 'pier-x',
    cert_status: 'pending_validation',
    records: [],
    http_proof: '',
    created_at: '2026-12-01T00:00:00Z',
    ...over,
  };
}

describe('attentionItem', () => {
  it('explains a blocked claim', () => {
    const it = attentionItem(domain({ status: 'blocked', error: 'blocked by the platform operator', checked_at: '2026-12-02T00:00:00Z' }));
    expect(it).toEqual({
      kind: 'blocked',
      label: 'Blocked',
      reason: 'Blocked by the platform operator. It is not checked or served.',
      when: '2026-12-02T00:00:00Z',
      whenLabel: 'checked',
    });
  });
  it('explains a failed certificate with its next retry', () => {
    const it = attentionItem(
      domain({ status: 'active', cert_status: 'failed', cert_error: 'acme: rate limited', cert_next_retry: '2026-12-03T00:00:00Z' }),
    );
    expect(it.kind).toBe('cert_failed');
    expect(it.label).toBe('Certificate failed');
    expect(it.reason).toBe('Acme: rate limited.');
    expect(it.next).toBe('2026-12-03T00:00:00Z');
    expect(it.when).toBe('2026-12-01T00:00:00Z');
    expect(it.whenLabel).toBe('added');
  });
  it('explains a failing verification', () => {
    const it = attentionItem(domain({ error: 'no TXT record at _pier-challenge.www.example.com', next_check: '2026-12-04T00:00:00Z' }));
    expect(it.kind).toBe('verification_failing');
    expect(it.reason).toBe('No TXT record at _pier-challenge.www.example.com.');
    expect(it.next).toBe('2026-12-04T00:00:00Z');
  });
  it('prefers blocked over a failed certificate', () => {
    expect(attentionItem(domain({ status: 'blocked', cert_status: 'failed' })).kind).toBe('blocked');
  });
});

describe('sentence', () => {
  it.each([
    ['', ''],
    ['done.', 'Done.'],
    ['why?', 'Why?'],
    [' x ', 'X.'],
  ])('%j', (s, want) => expect(sentence(s)).toBe(want));
});

describe('budget', () => {
  it.each([
    ['empty', { last_hour: 0, cap: 100 }, 0, 'ok', '0 of 100 orders used this hour'],
    ['most', { last_hour: 80, cap: 100 }, 0.8, 'warn', '80 of 100 orders used this hour'],
    ['full', { last_hour: 100, cap: 100 }, 1, 'full', '100 of 100 orders used this hour'],
    ['over', { last_hour: 1500, cap: 1000 }, 1, 'full', '1,500 of 1,000 orders used this hour'],
    ['no cap', { last_hour: 3, cap: 0 }, 0, 'ok', '3 orders this hour, no cap'],
  ])('%s', (_n, o, ratio, level, text) => {
    expect(budget(o)).toEqual({ ratio, level, text });
  });
});

describe('activateAction', () => {
  const live = { created_at: '2026-12-02T00:00:00Z' };
  it.each([
    ['older is a roll back', '2026-12-01T00:00:00Z', live, 'Roll back'],
    ['newer publishes', '2026-12-03T00:00:00Z', live, 'Publish'],
    ['nothing live publishes', '2026-12-01T00:00:00Z', undefined, 'Publish'],
  ])('%s', (_n, created, l, want) => expect(activateAction({ created_at: created }, l)).toBe(want));
});
