// The live log's logic, apart from the page: the events of
// GET /api/v1/sites/{site}/logs (docs/api.md, "Live logs"), the bounded
// line buffer with pause, the filters, and the stream's connection.

/** One event of the stream (the JSON of a `data:` line). */
export interface LogEvent {
  time: string;
  site: string;
  /** request: answered without the worker; invocation: by the worker; log: a line the worker logged; dropped: events lost. */
  kind: 'request' | 'invocation' | 'log' | 'dropped' | string;
  method?: string;
  path?: string;
  status?: number;
  duration_ms?: number;
  cpu_ms?: number;
  subrequests?: number;
  bytes_out?: number;
  outcome?: string;
  message?: string;
  dropped?: number;
}

/** One line of the view: a request or invocation with the worker's lines under it, a lone worker line, or a gap. */
export interface LogLine {
  /** Increasing in arrival order: a stable key. */
  id: number;
  event: LogEvent;
  /** The worker's own lines, logged while it handled this invocation. */
  logs: LogEvent[];
}

/** Lines the page keeps; older ones are forgotten. */
export const MAX_LINES = 1000;

/**
 * The lines of the view, oldest first, at most `capacity`. Worker lines
 * arrive before the invocation that logged them: they wait (up to
 * `capacity`) and go under the next invocation. While paused, new lines
 * are held back (the newest `capacity`, all counted) and appended on
 * resume.
 */
export class LineBuffer {
  readonly capacity: number;
  private shown: LogLine[] = [];
  private held: LogLine[] = [];
  private waiting: LogEvent[] = [];
  private nextId = 1;
  private heldCount = 0;
  /** Lines forgotten because the buffer was full (shown or held). */
  forgotten = 0;
  paused = false;

  constructor(capacity = MAX_LINES) {
    this.capacity = Math.max(1, capacity);
  }

  /** The lines shown, oldest first. */
  get lines(): readonly LogLine[] {
    return this.shown;
  }

  /** Lines that arrived while paused (including any forgotten since). */
  get newLines(): number {
    return this.heldCount;
  }

  /** Adds an event of the stream. */
  add(ev: LogEvent): void {
    if (ev.kind === 'log') {
      this.waiting.push(ev);
      if (this.waiting.length > this.capacity) {
        // No invocation came for them: show the oldest on its own.
        this.append({ id: this.nextId++, event: this.waiting.shift()!, logs: [] });
      }
      return;
    }
    const logs = ev.kind === 'invocation' ? this.waiting.splice(0) : [];
    this.append({ id: this.nextId++, event: ev, logs });
  }

  pause(): void {
    this.paused = true;
  }

  /** Shows what arrived while paused. */
  resume(): void {
    this.paused = false;
    for (const l of this.held) this.keep(this.shown, l);
    this.held = [];
    this.heldCount = 0;
  }

  /** Forgets every line (held ones too). */
  clear(): void {
    this.shown = [];
    this.held = [];
    this.heldCount = 0;
    this.forgotten = 0;
  }

  private append(line: LogLine): void {
    if (this.paused) {
      this.heldCount++;
      this.keep(this.held, line);
    } else {
      this.keep(this.shown, line);
    }
  }

  private keep(list: LogLine[], line: LogLine): void {
    list.push(line);
    if (list.length > this.capacity) {
      list.splice(0, list.length - this.capacity);
      this.forgotten++;
    }
    // A new array for the shown lines, so a view can tell they changed.
    if (list === this.shown) this.shown = list.slice();
  }
}

/** What the view's filters ask for; '' means any. */
export interface LogFilter {
  outcome: string;
  /** '2xx' … '5xx'. */
  status: string;
  text: string;
}

export const noFilter: LogFilter = { outcome: '', status: '', text: '' };

/** Outcomes the outcome filter offers: the edge's, then the worker's (docs/api.md). */
export const outcomeOptions: [string, string][] = [
  ['static', 'Static file'],
  ['redirect', 'Redirect'],
  ['rewrite', 'Rewrite'],
  ['fallback', 'Single-page fallback'],
  ['not_found', 'Not found'],
  ['method_not_allowed', 'Method not allowed'],
  ['error', 'Edge error'],
  ['canceled', 'Canceled'],
  ['rate_limited', 'Rate limited'],
  ['client_error', 'Client error (body)'],
  ['ok', 'Worker: ok'],
  ['exception', 'Worker: exception'],
  ['exceededCpu', 'Worker: CPU limit'],
  ['exceededSubrequests', 'Worker: subrequest limit'],
  ['exceededMemory', 'Worker: memory limit'],
  ['responseTooLarge', 'Worker: response too large'],
];

/** A readable name of an outcome. */
export function outcomeLabel(outcome: string | undefined): string {
  if (!outcome) return '';
  return outcomeOptions.find(([o]) => o === outcome)?.[1] ?? outcome;
}

/** The status class of a status: 404 → '4xx'. */
export function statusClass(status: number | undefined): string {
  return status && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : '';
}

/**
 * Whether a line passes the filters. Outcome and status apply to requests
 * and invocations (a lone worker line or a gap passes only when neither is
 * set); the text is searched case-insensitively in the method, path,
 * status, outcome, message and the worker's lines under it.
 */
export function matchesFilter(line: LogLine, f: LogFilter): boolean {
  const ev = line.event;
  const hasStatus = ev.kind === 'request' || ev.kind === 'invocation';
  if (f.outcome && (!hasStatus || ev.outcome !== f.outcome)) return false;
  if (f.status && (!hasStatus || statusClass(ev.status) !== f.status)) return false;
  const q = f.text.trim().toLowerCase();
  if (!q) return true;
  const fields = [ev.method, ev.path, ev.status?.toString(), ev.outcome, outcomeLabel(ev.outcome), ev.message, ...line.logs.map((l) => l.message)];
  return fields.some((s) => s !== undefined && s.toLowerCase().includes(q));
}

/** The lines that pass f, newest first. */
export function visibleLines(lines: readonly LogLine[], f: LogFilter): LogLine[] {
  const out: LogLine[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    if (matchesFilter(lines[i], f)) out.push(lines[i]);
  }
  return out;
}

/** "12:04:05.123" in the browser's time zone. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** "0.4 ms", "12 ms", "1.2 s", "< 0.1 ms". */
export function duration(ms: number | undefined): string {
  const v = ms ?? 0;
  if (v < 0.05) return '< 0.1 ms';
  if (v >= 1000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 10) return `${Math.round(v)} ms`;
  return `${v.toFixed(1)} ms`;
}

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

/** The part of EventSource the tail uses (a fake one in tests). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((e: Event) => void) | null;
  onmessage: ((e: MessageEvent) => void) | null;
  onerror: ((e: Event) => void) | null;
  addEventListener(type: string, fn: (e: MessageEvent) => void): void;
  close(): void;
}

/** EventSource.CLOSED: the browser gave up (an answer that was not a 200 stream). */
const CLOSED = 2;

/** Why the stream is down, from the probe of its URL. */
export type Probe = 'ok' | 'unauthorized' | 'not_found' | { unavailable: string } | 'network';

export interface TailOptions {
  url: string;
  buffer: LineBuffer;
  /** Opens the stream; `new EventSource(url)` in the browser. */
  open: (url: string) => EventSourceLike;
  /** Whether the session still holds (GET /session): false on a 401. */
  sessionValid: () => Promise<boolean>;
  /** Why a stream the browser gave up on failed: asks its URL once and stops reading. */
  probe: () => Promise<Probe>;
  /** Called after every change of lines or state. */
  onChange: () => void;
  onUnauthorized: () => void;
  onNotFound: () => void;
  /** Waits before reopening a stream the browser gave up on; doubled up to 15 s. */
  retryMs?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/**
 * Follows a site's log stream into a LineBuffer. EventSource reconnects by
 * itself after a network failure; an answer that is not a stream (a 401,
 * 404, 503, or a server restarting) closes it for good, so the tail asks
 * why and opens a new one after a wait, or gives up when the reason is
 * final.
 */
export class LogTail {
  state: Connection = 'connecting';
  /** Events the server dropped because this reader was too slow, in total. */
  dropped = 0;
  /** Why the log is unavailable, when state is 'unavailable'. */
  reason = '';
  private es?: EventSourceLike;
  private timer: unknown;
  private wait: number;
  private stopped = false;
  private readonly o: Required<TailOptions>;

  constructor(options: TailOptions) {
    this.o = {
      retryMs: 1000,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      ...options,
    };
    this.wait = this.o.retryMs;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.o.clearTimer(this.timer);
    this.es?.close();
    this.es = undefined;
  }

  private set(state: Connection): void {
    this.state = state;
    this.o.onChange();
  }

  private connect(): void {
    const es = this.o.open(this.o.url);
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.wait = this.o.retryMs;
      this.set('live');
    };
    es.onmessage = (e) => {
      if (this.es !== es) return;
      const ev = parse(e.data);
      if (ev) {
        this.o.buffer.add(ev);
        this.o.onChange();
      }
    };
    es.addEventListener('dropped', (e) => {
      if (this.es !== es) return;
      const ev = parse(e.data);
      const n = ev?.dropped ?? 0;
      if (n > 0) {
        this.dropped += n;
        this.o.buffer.add({ ...ev!, kind: 'dropped', dropped: n });
        this.o.onChange();
      }
    });
    es.onerror = () => {
      if (this.es !== es) return;
      this.failed(es);
    };
  }

  private async failed(es: EventSourceLike): Promise<void> {
    const closed = es.readyState === CLOSED;
    if (closed) es.close();
    this.set('reconnecting');
    // EventSource cannot see the status: a 401 looks like any failure.
    if (!(await this.o.sessionValid().catch(() => true))) {
      this.stop();
      this.o.onUnauthorized();
      return;
    }
    if (!closed || this.stopped || this.es !== es) return; // the browser retries by itself
    const why = await this.o.probe().catch(() => 'network' as const);
    if (this.stopped || this.es !== es) return;
    if (why === 'unauthorized') {
      this.stop();
      this.o.onUnauthorized();
      return;
    }
    if (why === 'not_found') {
      this.stop();
      this.o.onNotFound();
      return;
    }
    if (typeof why === 'object') {
      this.stop();
      this.reason = why.unavailable;
      this.set('unavailable');
      return;
    }
    this.timer = this.o.setTimer(() => {
      if (!this.stopped && this.es === es) this.connect();
    }, this.wait);
    this.wait = Math.min(this.wait * 2, 15_000);
  }
}

function parse(data: unknown): LogEvent | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const ev = JSON.parse(data) as LogEvent;
    return ev && typeof ev === 'object' && typeof ev.kind === 'string' ? ev : undefined;
  } catch {
    return undefined;
  }
}
