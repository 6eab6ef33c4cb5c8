import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, type Deployment, type Domain, type Site } from '../api';
import { errorMessage, failed } from '../errors';
import {
  absoluteTime,
  bytes,
  certStatusLabel,
  count,
  displayURL,
  domainStatusLabel,
  plural,
  relativeTime,
  requestTotals,
  sitePath,
  sourceLabel,
} from '../format';
import { Link, SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { fetchUsage } from '../components/Analytics';
import { ChartFigure } from '../components/ChartFigure';
import { buckets, rangeById, requestsChart, type Buckets } from '../usage';
import { LoadError } from '../components/LoadError';
import { GitPanel } from '../components/GitPanel';

/** The range of the overview's traffic chart: 24 hours by 5 minutes. */
const DAY = rangeById('24h')!;

/** Deployments the overview shows. */
export const LATEST = 5;

type Loaded = { site: Site; deployments: Deployment[]; domains: Domain[]; moreDomains: boolean };

/** A site at a glance: live URL, live deployment, the latest deployments, git, domains, 24 h traffic. */
export function SiteOverview(props: { site: string; onUnauthorized: () => void }) {
  const [data, setData] = useState<Loaded | undefined>();
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState('');
  const [usage, setUsage] = useState<Buckets | undefined>();
  const [usageError, setUsageError] = useState('');

  async function load() {
    setError('');
    setMissing(false);
    try {
      const [site, deps, doms] = await Promise.all([
        api.site(props.site),
        api.deployments(props.site, { limit: LATEST }),
        api.domains(props.site),
      ]);
      setData({ site, deployments: deps.items, domains: doms.items, moreDomains: !!doms.next_cursor });
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) return props.onUnauthorized();
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      setError(errorMessage(err));
    }
    try {
      setUsage(buckets(await fetchUsage({ site: props.site }, DAY)));
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setUsageError(m);
    }
  }

  useEffect(() => {
    setData(undefined);
    setUsage(undefined);
    load();
  }, [props.site]);

  if (missing) return <SiteNotFound site={props.site} />;

  const live = data?.deployments.find((d) => d.active);
  const activeId = data?.site.active_deployment;
  return (
    <SiteFrame site={props.site} tab="overview">
      <LoadError what="the site" error={error} onRetry={load} />
      {!data && !error && (
        <p class="muted" role="status">
          Loading site…
        </p>
      )}
      {data && (
        <div class="grid">
          <section class="card panel wide" aria-labelledby="live-title">
            <h2 id="live-title">Live</h2>
            <dl class="facts facts-row">
              <div>
                <dt>URL</dt>
                <dd>
                  {activeId ? (
                    <a href={data.site.url} target="_blank" rel="noopener noreferrer" class="url">
                      {displayURL(data.site.url)}
                    </a>
                  ) : (
                    <span class="url muted">{displayURL(data.site.url)} (nothing published yet)</span>
                  )}
                </dd>
              </div>
              <div>
                <dt>Active deployment</dt>
                <dd>
                  {activeId ? (
                    <span class="pill pill-live">
                      <span class="dot" aria-hidden="true" />
                      <code>{activeId}</code>
                    </span>
                  ) : (
                    <span class="pill">Not deployed</span>
                  )}
                </dd>
              </div>
              {live && (
                <div>
                  <dt>Published</dt>
                  <dd>
                    <time dateTime={live.created_at} title={absoluteTime(live.created_at)}>
                      {relativeTime(live.created_at)}
                    </time>{' '}
                    · {plural(live.files, 'file')} · {bytes(live.bytes)} · {sourceLabel(live.source)}
                  </dd>
                </div>
              )}
            </dl>
          </section>

          <Traffic site={props.site} usage={usage} error={usageError} />

          <section class="card wide" aria-labelledby="latest-title">
            <div class="card-head">
              <h2 id="latest-title">Latest deployments</h2>
              <Link href={sitePath(props.site, 'deployments')}>All deployments</Link>
            </div>
            {data.deployments.length === 0 ? (
              <div class="empty">
                <p class="muted">
                  No deployments yet. Publish with <code>pier deploy DIR --site {props.site}</code>.
                </p>
              </div>
            ) : (
              <ul class="list" aria-label="Latest deployments">
                {data.deployments.map((d) => (
                  <li key={d.id}>
                    <code>{d.id}</code>
                    {d.active && (
                      <span class="pill pill-live">
                        <span class="dot" aria-hidden="true" />
                        Live
                      </span>
                    )}
                    <span class="muted">
                      {sourceLabel(d.source)} · {plural(d.files, 'file')} · {bytes(d.bytes)} ·{' '}
                      <time dateTime={d.created_at} title={absoluteTime(d.created_at)}>
                        {relativeTime(d.created_at)}
                      </time>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>

          <GitPanel site={props.site} siteURL={data.site.url} onUnauthorized={props.onUnauthorized} />

          <section class="card wide" aria-labelledby="domains-title">
            <div class="card-head">
              <h2 id="domains-title">Domains</h2>
              <Link href={sitePath(props.site, 'domains')}>Manage domains</Link>
            </div>
            {data.domains.length === 0 ? (
              <div class="empty">
                <p class="muted">
                  No custom domains. Add one with <code>pier domains add HOST --site {props.site}</code>.
                </p>
              </div>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Hostname</th>
                    <th scope="col">Status</th>
                    <th scope="col">Certificate</th>
                  </tr>
                </thead>
                <tbody>
                  {data.domains.map((d) => (
                    <tr key={d.hostname}>
                      <th scope="row" data-label="Hostname">
                        <span class="url">{d.hostname}</span>
                      </th>
                      <td data-label="Status">
                        <span>
                          <span class={'pill pill-' + d.status}>{domainStatusLabel(d.status)}</span>
                          {d.error && d.status !== 'active' && <span class="note">{d.error}</span>}
                        </span>
                      </td>
                      <td data-label="Certificate">
                        <span>
                          <span class={'pill pill-cert-' + d.cert_status}>{certStatusLabel(d.cert_status)}</span>
                          {d.cert_error && <span class="note">{d.cert_error}</span>}
                        </span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {data.moreDomains && <p class="card-meta">Showing the first {data.domains.length} domains.</p>}
          </section>
        </div>
      )}
    </SiteFrame>
  );
}

/** The last 24 hours: a chart of requests by status class, the totals by class and bytes out. */
function Traffic(props: { site: string; usage?: Buckets; error: string }) {
  const totals = props.usage?.totals;
  const req = requestTotals(totals?.requests);
  const chart = useMemo(() => (props.usage ? requestsChart(props.usage) : undefined), [props.usage]);
  return (
    <section class="card panel wide traffic" aria-labelledby="traffic-title">
      <div class="traffic-head">
        <h2 id="traffic-title">Traffic, last 24 hours</h2>
        <Link href={sitePath(props.site, 'analytics')}>View analytics</Link>
      </div>
      {props.error && (
        <p class="alert alert-error" role="alert">
          Loading traffic failed: {props.error}
        </p>
      )}
      {!totals && !props.error && <p class="muted">Loading traffic…</p>}
      {totals && chart && (
        <div class="traffic-body">
          {req.total > 0 ? (
            <ChartFigure chart={chart} range={DAY} size="small" compact class="traffic-chart" caption="Requests by status class" />
          ) : (
            <p class="muted traffic-none">No requests in the last 24 hours.</p>
          )}
          <dl class="stats" aria-label="Traffic totals, last 24 hours">
            <div class="stat stat-main">
              <dt>Requests</dt>
              <dd>{count(req.total)}</dd>
            </div>
            <div class="stat stat-main">
              <dt>Bytes out</dt>
              <dd>{bytes(totals.bytes_out)}</dd>
            </div>
            {req.byClass.map(([cls, n]) => (
              <div class={'stat stat-' + cls} key={cls}>
                <dt>{cls}</dt>
                <dd>{count(n)}</dd>
              </div>
            ))}
          </dl>
        </div>
      )}
    </section>
  );
}
