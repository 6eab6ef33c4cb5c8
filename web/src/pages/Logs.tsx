import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, errorFrom } from '../api';
import { bytes, count, plural } from '../format';
import { SiteFrame, SiteNotFound } from '../components/SiteFrame';
import {
  LineBuffer,
  LogTail,
  MAX_LINES,
  clockTime,
  duration,
  noFilter,
  outcomeLabel,
  outcomeOptions,
  visibleLines,
  type Connection,
  type LogFilter,
  type LogLine,
  type Probe,
} from '../logs';

/** How often the view redraws at most while lines pour in. */
const REDRAW_MS = 100;

const connectionLabels: Record<Connection, string> = {
  connecting: 'Connecting',
  live: 'Live',
  reconnecting: 'Reconnecting',
  unavailable: 'Unavailable',
};

/** Asks the stream's URL why EventSource gave up, and stops reading it. */
async function probe(url: string): Promise<Probe> {
  const ctl = new AbortController();
  let res: Response;
  try {
    res = await fetch(url, { headers: { Accept: 'text/event-stream' }, credentials: 'same-origin', cache: 'no-store', signal: ctl.signal });
  } catch {
    return 'network';
  }
  if (res.ok) {
    ctl.abort();
    return 'ok';
  }
  const err = errorFrom(res.status, res.statusText, await res.json().catch(() => undefined));
  if (err.unauthorized) return 'unauthorized';
  if (err.status === 404) return 'not_found';
  if (err.code === 'logs_unavailable') return { unavailable: err.message };
  return 'network';
}

/** A site's live log: requests, worker invocations and the worker's lines as they happen. */
export function Logs(props: { site: string; onUnauthorized: () => void }) {
  const buffer = useMemo(() => new LineBuffer(MAX_LINES), [props.site]);
  const [, redraw] = useState(0);
  const [missing, setMissing] = useState(false);
  const [filter, setFilter] = useState<LogFilter>(noFilter);
  const tail = useRef<LogTail | undefined>(undefined);

  useEffect(() => {
    setMissing(false);
    let pending: ReturnType<typeof setTimeout> | undefined;
    const changed = () => {
      pending ??= setTimeout(() => {
        pending = undefined;
        redraw((n) => n + 1);
      }, REDRAW_MS);
    };
    const url = `/api/v1/sites/${encodeURIComponent(props.site)}/logs`;
    const t = new LogTail({
      url,
      buffer,
      open: (u) => new EventSource(u),
      sessionValid: () =>
        api.session().then(
          () => true,
          (err) => !(err instanceof ApiError && err.unauthorized),
        ),
      probe: () => probe(url),
      onChange: changed,
      onUnauthorized: props.onUnauthorized,
      onNotFound: () => setMissing(true),
    });
    tail.current = t;
    t.start();
    return () => {
      t.stop();
      clearTimeout(pending);
    };
  }, [props.site]);

  if (missing) return <SiteNotFound site={props.site} />;

  const t = tail.current;
  const state = t?.state ?? 'connecting';
  const lines = visibleLines(buffer.lines, filter);
  const filtered = filter.outcome !== '' || filter.status !== '' || filter.text.trim() !== '';
  const togglePause = () => {
    if (buffer.paused) buffer.resume();
    else buffer.pause();
    redraw((n) => n + 1);
  };
  return (
    <SiteFrame site={props.site} tab="logs">
      <div class="card logs">
        <div class="logs-bar">
          <div class="logs-states">
            <p class={'pill logs-state logs-' + state} role="status" aria-live="polite">
              <span class="dot" aria-hidden="true" />
              {connectionLabels[state]}
            </p>
            {buffer.paused && (
              <p class="pill logs-paused">
                Paused · {plural(buffer.newLines, 'new line')}
              </p>
            )}
          </div>
          <div class="logs-actions">
            <button type="button" class={'button' + (buffer.paused ? ' button-primary' : '')} onClick={togglePause}>
              {buffer.paused ? 'Resume' : 'Pause'}
            </button>
            <button
              type="button"
              class="button button-quiet"
              disabled={buffer.lines.length === 0}
              onClick={() => {
                buffer.clear();
                redraw((n) => n + 1);
              }}
            >
              Clear lines
            </button>
          </div>
        </div>
        <div class="logs-filters" role="search" aria-label="Filter log lines">
          <div>
            <label for="log-outcome">Outcome</label>
            <select id="log-outcome" value={filter.outcome} onChange={(e) => setFilter({ ...filter, outcome: e.currentTarget.value })}>
              <option value="">All outcomes</option>
              {outcomeOptions.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="log-status">Status</label>
            <select id="log-status" value={filter.status} onChange={(e) => setFilter({ ...filter, status: e.currentTarget.value })}>
              <option value="">All statuses</option>
              {['2xx', '3xx', '4xx', '5xx'].map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
          <div class="logs-search">
            <label for="log-text">Search lines</label>
            <input
              id="log-text"
              type="search"
              placeholder="Path, status, message…"
              value={filter.text}
              onInput={(e) => setFilter({ ...filter, text: e.currentTarget.value })}
            />
          </div>
        </div>
        {state === 'unavailable' && (
          <p class="alert alert-error logs-alert" role="alert">
            The live log is not available on this server: {t?.reason}
          </p>
        )}
        <p class={t && t.dropped > 0 ? 'alert alert-info logs-alert' : 'sr-only'} role="status" aria-live="polite">
          {t && t.dropped > 0
            ? `${plural(t.dropped, 'line')} dropped because this page could not keep up with the stream. Lines after the gap are complete.`
            : ''}
        </p>
        <p class="card-meta logs-meta">
          {lines.length === 0
            ? ''
            : filtered
              ? `${count(lines.length)} of ${plural(buffer.lines.length, 'line')} match, newest first.`
              : `${plural(lines.length, 'line')}, newest first.`}{' '}
          The page keeps the last {count(MAX_LINES)} lines{buffer.forgotten > 0 ? '; older ones were let go' : ''}.
        </p>
        {lines.length === 0 ? (
          <div class="empty">
            <h2>{buffer.lines.length === 0 ? 'Waiting for requests' : 'No matching lines'}</h2>
            <p class="muted">
              {buffer.lines.length === 0
                ? 'Lines appear here as the site answers requests, from the moment this page opened.'
                : 'Change the filters to see more lines.'}
            </p>
          </div>
        ) : (
          <table class="table logs-table">
            <caption class="sr-only">Live log of {props.site}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
                <th scope="col">Size</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            {lines.map((l) => (
              <Line key={l.id} line={l} />
            ))}
          </table>
        )}
      </div>
    </SiteFrame>
  );
}

/** One line: a row, and the worker's lines under an invocation. Each line is its own tbody. */
function Line({ line }: { line: LogLine }) {
  const ev = line.event;
  if (ev.kind === 'dropped') {
    return (
      <tbody class="log-gap">
        <tr>
          <td colSpan={7}>… {plural(ev.dropped ?? 0, 'line')} dropped (reader too slow)</td>
        </tr>
      </tbody>
    );
  }
  if (ev.kind === 'log') {
    return (
      <tbody>
        <WorkerLine time={ev.time} message={ev.message ?? ''} />
      </tbody>
    );
  }
  const bad = (ev.status ?? 0) >= 500 || (ev.outcome !== undefined && !['ok', 'static', 'redirect', 'rewrite', 'fallback', 'not_found'].includes(ev.outcome));
  return (
    <tbody class={'log-entry' + (line.logs.length > 0 ? ' log-has-lines' : '')}>
      <tr>
        <td data-label="Time">
          <time dateTime={ev.time}>{clockTime(ev.time)}</time>
        </td>
        <td data-label="Method">
          <code>{ev.method}</code>
        </td>
        <th scope="row" data-label="Path" class="log-path">
          <code>{ev.path}</code>
          {ev.message && <span class="note">{ev.message}</span>}
        </th>
        <td data-label="Status">
          <span class={'log-status log-status-' + Math.floor((ev.status ?? 0) / 100)}>{ev.status || '—'}</span>
        </td>
        <td data-label="Duration">
          {duration(ev.duration_ms)}
          {ev.kind === 'invocation' && <span class="note">CPU {duration(ev.cpu_ms)}</span>}
        </td>
        <td data-label="Size">{bytes(ev.bytes_out ?? 0)}</td>
        <td data-label="Outcome">
          <span class={'pill log-outcome' + (bad ? ' log-outcome-bad' : '')}>
            {ev.kind === 'invocation' ? 'Worker' : 'Edge'}: {outcomeLabel(ev.outcome).replace(/^Worker: /, '')}
          </span>
        </td>
      </tr>
      {line.logs.map((l, i) => (
        <WorkerLine key={i} time={l.time} message={l.message ?? ''} nested />
      ))}
    </tbody>
  );
}

/** A line the worker logged: under its invocation, or on its own. */
function WorkerLine(props: { time: string; message: string; nested?: boolean }) {
  return (
    <tr class={'log-line' + (props.nested ? ' log-line-nested' : '')}>
      <td colSpan={7}>
        <div class="log-line-body">
          <span class="log-line-tag">{props.nested ? '↳ worker log' : 'worker log'}</span>
          <time dateTime={props.time} class="log-line-time">
            {clockTime(props.time)}
          </time>
          <code class="log-line-message">{props.message}</code>
        </div>
      </td>
    </tr>
  );
}
