import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api';
import { failed } from '../errors';
import {
  buckets,
  bytesChart,
  cpuChart,
  invocationsChart,
  isEmpty,
  noWorker,
  rangeById,
  ranges,
  requestsChart,
  subrequestsChart,
  tailWindow,
  usageWindow,
  violationsChart,
  withTail,
  type Buckets,
  type Range,
  type RangeId,
  type UsageSeries,
} from '../usage';
import { ChartFigure } from './ChartFigure';
import { LoadError } from './LoadError';

/** Whose usage: one site's, or all of a tenant's sites'. */
export type Scope = { site: string } | { tenant: string };

/** How often the open page reads the usage again (edge nodes flush every 10 s). */
export const REFRESH_MS = 30_000;

/**
 * GET /api/v1/sites/{site}/usage or /api/v1/tenants/{tenant}/usage over
 * range, ending now; for hourly ranges also the last hours from the
 * minute rows, which replace the roll-ups' (withTail).
 */
export async function fetchUsage(scope: Scope, range: Range, now = Date.now()): Promise<UsageSeries> {
  const w = usageWindow(range, now);
  const t = tailWindow(range, w);
  const path = 'site' in scope ? `/sites/${encodeURIComponent(scope.site)}/usage` : `/tenants/${encodeURIComponent(scope.tenant)}/usage`;
  const [series, tail] = await Promise.all([
    api.request<UsageSeries>('GET', path + query(w)),
    t ? api.request<UsageSeries>('GET', path + query(t)) : undefined,
  ]);
  return tail ? withTail(series, tail) : series;
}

/** The range the address names (?range=1h|24h|7d), else 24 hours. */
function rangeFromURL(): Range {
  return rangeById(new URLSearchParams(location.search).get('range')) ?? ranges[1];
}

/** The segmented control of the ranges: native radio buttons, so arrow keys move between them. */
export function RangePicker(props: { value: RangeId; onChange: (r: Range) => void }) {
  return (
    <fieldset class="segmented">
      <legend class="sr-only">Time range</legend>
      {ranges.map((r) => (
        <label key={r.id} class={r.id === props.value ? 'segment segment-on' : 'segment'}>
          <input type="radio" name="analytics-range" value={r.id} checked={r.id === props.value} onChange={() => props.onChange(r)} />
          <span>{r.label}</span>
        </label>
      ))}
    </fieldset>
  );
}

type Loaded = { range: Range; buckets: Buckets; at: Date };

/**
 * Analytics of a site or a tenant: requests by status class, bytes out,
 * worker invocations by outcome, CPU time, subrequests and limit
 * violations over the last hour, 24 hours or 7 days, read again every
 * REFRESH_MS while the page is visible. onMissing: the API answered 404
 * (no such site or tenant that the signed-in principal can see).
 */
export function Analytics(props: { scope: Scope; onUnauthorized: () => void; onMissing: () => void }) {
  const [range, setRange] = useState<Range>(rangeFromURL);
  const [data, setData] = useState<Loaded | undefined>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const scopeKey = 'site' in props.scope ? 'site:' + props.scope.site : 'tenant:' + props.scope.tenant;

  async function load(r: Range) {
    const mine = ++seq.current;
    setBusy(true);
    try {
      const u = await fetchUsage(props.scope, r);
      if (mine !== seq.current) return; // a newer request answers for the page
      setData({ range: r, buckets: buckets(u), at: new Date() });
      setError('');
    } catch (err) {
      if (mine !== seq.current) return;
      if (err instanceof ApiError && err.status === 404) return props.onMissing();
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setError(m);
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  }

  useEffect(() => {
    load(range);
    const timer = setInterval(() => {
      if (!document.hidden) load(range);
    }, REFRESH_MS);
    return () => {
      clearInterval(timer);
      seq.current++; // answers still on their way are for a page no longer shown
    };
  }, [scopeKey, range.id]);

  function choose(r: Range) {
    setRange(r);
    const url = new URL(location.href);
    url.searchParams.set('range', r.id);
    history.replaceState(history.state, '', url.pathname + url.search);
  }

  const charts = useMemo(() => {
    if (!data) return undefined;
    const b = data.buckets;
    return {
      requests: requestsChart(b),
      bytes: bytesChart(b),
      invocations: invocationsChart(b),
      cpu: cpuChart(b),
      subrequests: subrequestsChart(b),
      violations: violationsChart(b),
    };
  }, [data]);

  const whose = 'site' in props.scope ? 'this site' : "this tenant's sites";
  const shown = data?.range ?? range;
  return (
    <div class="analytics">
      <div class="analytics-bar">
        <RangePicker value={range.id} onChange={choose} />
        <div class="analytics-meta">
          <span class="muted">
            {data ? `${shown.stepWords} · updated ${data.at.toISOString().slice(11, 19)} UTC` : ''}
          </span>
          <button type="button" class="button button-quiet button-small" disabled={busy} onClick={() => load(range)}>
            {busy ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
      </div>

      <LoadError what="analytics" error={error} onRetry={() => load(range)} />
      {!data && !error && (
        <p class="muted" role="status">
          Loading analytics…
        </p>
      )}

      {data && charts && isEmpty(data.buckets) && (
        <div class="card empty analytics-empty">
          <h2>No traffic in the {shown.words}</h2>
          <p class="muted">
            Requests to {whose} show up here within about 10 seconds{shown.id === ranges[ranges.length - 1].id ? '.' : '; a longer range may show older ones.'}
          </p>
        </div>
      )}

      {data && charts && !isEmpty(data.buckets) && (
        <>
          <section class="analytics-section" aria-labelledby="analytics-traffic">
            <h2 id="analytics-traffic">Traffic</h2>
            <div class="chart-grid">
              <ChartFigure chart={charts.requests} range={shown} class="card" caption="Requests by status class" />
              <ChartFigure chart={charts.bytes} range={shown} class="card" />
            </div>
          </section>
          <section class="analytics-section" aria-labelledby="analytics-workers">
            <h2 id="analytics-workers">Workers</h2>
            {noWorker(data.buckets) ? (
              <p class="card panel muted">
                No worker ran in the {shown.words}. For a site with a worker, its invocations by outcome, CPU time, subrequests and
                limit violations show here.
              </p>
            ) : (
              <div class="chart-grid">
                <ChartFigure chart={charts.invocations} range={shown} class="card" caption="Worker invocations by outcome" />
                <ChartFigure chart={charts.cpu} range={shown} class="card" />
                <ChartFigure chart={charts.subrequests} range={shown} class="card" />
                <ChartFigure chart={charts.violations} range={shown} class="card" />
              </div>
            )}
          </section>
        </>
      )}
    </div>
  );
}
