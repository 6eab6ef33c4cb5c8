import { describe, expect, it } from 'vitest';
import {
  LineBuffer,
  LogTail,
  duration,
  matchesFilter,
  noFilter,
  statusClass,
  visibleLines,
  type EventSourceLike,
  type LogEvent,
  type LogLine,
  type Probe,
} from './logs';

const at = '2026-12-05T10:00:00.000Z';
const req = (path: string, status = 200, outcome = 'static'): LogEvent => ({ time: at, site: 'blog', kind: 'request', method: 'GET', path, status, outcome });
const inv = (path: string, status = 200, outcome = 'ok'): LogEvent => ({ time: at, site: 'blog', kind: 'invocation', method: 'GET', path, status, outcome });
const log = (message: string): LogEvent => ({ time: at, site: 'blog', kind: 'log', message });
const paths = (lines: readonly LogLine[]) => lines.map((l) => l.event.path ?? l.event.message ?? l.event.kind);

describe('LineBuffer', () => {
  it('keeps the newest lines up to its capacity and counts the ones it lets go', () => {
    const b = new LineBuffer(3);
    for (const p of ['/1', '/2', '/3', '/4', '/5']) b.add(req(p));
    expect(paths(b.lines)).toEqual(['/3', '/4', '/5']);
    expect(b.forgotten).toBe(2);
    expect(new Set(b.lines.map((l) => l.id)).size).toBe(3);
  });

  it('puts the worker lines under the invocation that follows them, not under a static request', () => {
    const b = new LineBuffer();
    b.add(log('cache miss'));
    b.add(req('/style.css'));
    b.add(log('fetched'));
    b.add(inv('/api/x'));
    b.add(inv('/api/y'));
    expect(paths(b.lines)).toEqual(['/style.css', '/api/x', '/api/y']);
    expect(b.lines[1].logs.map((l) => l.message)).toEqual(['cache miss', 'fetched']);
    expect(b.lines[0].logs).toEqual([]);
    expect(b.lines[2].logs).toEqual([]);
  });

  it('shows worker lines on their own when no invocation claims them', () => {
    const b = new LineBuffer(2);
    b.add(log('a'));
    b.add(log('b'));
    b.add(log('c'));
    expect(paths(b.lines)).toEqual(['a']);
    expect(b.lines[0].event.kind).toBe('log');
  });

  it('holds lines back while paused, counts them, and appends them on resume', () => {
    const b = new LineBuffer(3);
    b.add(req('/1'));
    b.pause();
    for (const p of ['/2', '/3', '/4', '/5']) b.add(req(p));
    expect(paths(b.lines)).toEqual(['/1']);
    expect(b.newLines).toBe(4);
    b.resume();
    expect(b.paused).toBe(false);
    expect(b.newLines).toBe(0);
    expect(paths(b.lines)).toEqual(['/3', '/4', '/5']);
  });

  it('gives a new array when the lines change, so a view redraws', () => {
    const b = new LineBuffer();
    const before = b.lines;
    b.add(req('/'));
    expect(b.lines).not.toBe(before);
  });

  it('clear forgets shown and held lines', () => {
    const b = new LineBuffer();
    b.add(req('/1'));
    b.pause();
    b.add(req('/2'));
    b.clear();
    b.resume();
    expect(b.lines).toEqual([]);
  });
});

describe('filters', () => {
  const line = (event: LogEvent, logs: LogEvent[] = []): LogLine => ({ id: 1, event, logs });

  it.each([
    ['nothing set', noFilter, req('/a'), true],
    ['outcome matches', { ...noFilter, outcome: 'static' }, req('/a'), true],
    ['outcome differs', { ...noFilter, outcome: 'redirect' }, req('/a'), false],
    ['worker outcome', { ...noFilter, outcome: 'ok' }, inv('/api'), true],
    ['status class matches', { ...noFilter, status: '4xx' }, req('/nope', 404, 'not_found'), true],
    ['status class differs', { ...noFilter, status: '4xx' }, req('/a', 200), false],
    ['5xx', { ...noFilter, status: '5xx' }, inv('/api', 503, 'exceededCpu'), true],
    ['text in the path, any case', { ...noFilter, text: 'HELLO' }, req('/hello.html'), true],
    ['text in the status', { ...noFilter, text: '404' }, req('/x', 404, 'not_found'), true],
    ['text in the outcome label', { ...noFilter, text: 'not found' }, req('/x', 404, 'not_found'), true],
    ['text absent', { ...noFilter, text: 'zzz' }, req('/hello.html'), false],
    ['every filter at once', { outcome: 'not_found', status: '4xx', text: 'nope' }, req('/nope', 404, 'not_found'), true],
    ['a lone worker line passes text only', { ...noFilter, text: 'miss' }, log('cache miss'), true],
    ['a lone worker line has no status', { ...noFilter, status: '2xx' }, log('cache miss'), false],
  ])('%s', (_, f, ev, want) => {
    expect(matchesFilter(line(ev), f)).toBe(want);
  });

  it("finds an invocation by its worker's lines", () => {
    expect(matchesFilter(line(inv('/api'), [log('user 42 signed in')]), { ...noFilter, text: 'user 42' })).toBe(true);
  });

  it('lists the matching lines newest first', () => {
    const lines = [req('/1'), req('/2', 404, 'not_found'), req('/3')].map((e, i) => ({ id: i, event: e, logs: [] }));
    expect(paths(visibleLines(lines, noFilter))).toEqual(['/3', '/2', '/1']);
    expect(paths(visibleLines(lines, { ...noFilter, status: '2xx' }))).toEqual(['/3', '/1']);
  });

  it('status classes and durations', () => {
    expect([statusClass(200), statusClass(304), statusClass(0), statusClass(undefined)]).toEqual(['2xx', '3xx', '', '']);
    expect([duration(0.42), duration(12.4), duration(1500), duration(0.01), duration(undefined)]).toEqual(['0.4 ms', '12 ms', '1.5 s', '< 0.1 ms', '< 0.1 ms']);
  });
});

/** An EventSource the test drives. */
class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: ((e: Event) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  private listeners: Record<string, ((e: MessageEvent) => void)[]> = {};
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    (this.listeners[type] ??= []).push(fn);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  send(ev: LogEvent, type = 'message') {
    const m = { data: JSON.stringify(ev) } as MessageEvent;
    if (type === 'message') this.onmessage?.(m);
    else for (const fn of this.listeners[type] ?? []) fn(m);
  }
  fail(closed: boolean) {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
}

function tail(opts: { session?: boolean; probe?: Probe } = {}) {
  const sources: FakeSource[] = [];
  const timers: (() => void)[] = [];
  const calls = { unauthorized: 0, notFound: 0, changes: 0 };
  const buffer = new LineBuffer();
  const t = new LogTail({
    url: '/api/v1/sites/blog/logs',
    buffer,
    open: () => {
      const s = new FakeSource();
      sources.push(s);
      return s;
    },
    sessionValid: async () => opts.session ?? true,
    probe: async () => opts.probe ?? 'ok',
    onChange: () => calls.changes++,
    onUnauthorized: () => calls.unauthorized++,
    onNotFound: () => calls.notFound++,
    setTimer: (fn) => timers.push(fn),
    clearTimer: () => {},
  });
  t.start();
  return { t, sources, timers, calls, buffer };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('LogTail', () => {
  it('is connecting, then live, and adds what arrives', () => {
    const { t, sources, buffer } = tail();
    expect(t.state).toBe('connecting');
    sources[0].open();
    expect(t.state).toBe('live');
    sources[0].send(req('/hello.html'));
    expect(paths(buffer.lines)).toEqual(['/hello.html']);
  });

  it('counts dropped lines from the server and marks the gap', () => {
    const { t, sources, buffer } = tail();
    sources[0].open();
    sources[0].send(req('/1'));
    sources[0].send({ time: at, site: 'blog', kind: 'dropped', dropped: 12 }, 'dropped');
    sources[0].send(req('/14'));
    sources[0].send({ time: at, site: 'blog', kind: 'dropped', dropped: 3 }, 'dropped');
    expect(t.dropped).toBe(15);
    expect(buffer.lines.map((l) => l.event.kind)).toEqual(['request', 'dropped', 'request', 'dropped']);
    expect(buffer.lines[1].event.dropped).toBe(12);
  });

  it('reconnecting while the browser retries by itself, live again when it is back', async () => {
    const { t, sources, timers } = tail();
    sources[0].open();
    sources[0].fail(false);
    await settle();
    expect(t.state).toBe('reconnecting');
    expect(sources).toHaveLength(1);
    expect(timers).toHaveLength(0);
    sources[0].open();
    expect(t.state).toBe('live');
  });

  it('opens a new stream after a wait when the browser gave up and the log is there', async () => {
    const { t, sources, timers } = tail({ probe: 'ok' });
    sources[0].fail(true);
    await settle();
    expect(t.state).toBe('reconnecting');
    expect(sources[0].closed).toBe(true);
    expect(timers).toHaveLength(1);
    timers[0]();
    expect(sources).toHaveLength(2);
    sources[1].open();
    expect(t.state).toBe('live');
  });

  it('goes to sign-in when the session ended', async () => {
    const { t, sources, calls } = tail({ session: false });
    sources[0].open();
    sources[0].fail(false);
    await settle();
    expect(calls.unauthorized).toBe(1);
    expect(sources[0].closed).toBe(true);
    expect(t.state).toBe('reconnecting');
  });

  it('says the site is gone, or that the server has no live log', async () => {
    const gone = tail({ probe: 'not_found' });
    gone.sources[0].fail(true);
    await settle();
    expect(gone.calls.notFound).toBe(1);
    expect(gone.timers).toHaveLength(0);

    const off = tail({ probe: { unavailable: 'this server has no live log stream' } });
    off.sources[0].fail(true);
    await settle();
    expect(off.t.state).toBe('unavailable');
    expect(off.t.reason).toContain('no live log');
    expect(off.timers).toHaveLength(0);
  });

  it('ignores a stream it stopped', () => {
    const { t, sources, buffer } = tail();
    t.stop();
    sources[0].send(req('/late'));
    expect(buffer.lines).toEqual([]);
    expect(sources[0].closed).toBe(true);
  });
});
