import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Session } from '../api';
import { failed } from '../errors';
import { attention, type Attention as AttentionList } from '../api-detail';
import { absoluteTime, certStatusLabel, domainStatusLabel, plural, relativeTime, sitePath, tenantPath } from '../format';
import { attentionItem, budget } from '../detail';
import { Link } from '../components/SiteFrame';
import { DomainBlockDialog } from '../components/DomainBlockDialog';
import type { BlockTarget } from '../domainblock';
import { LoadError } from '../components/LoadError';

/** What a tenant that opens the attention list sees (the API answers it 403). */
function OperatorsOnly() {
  return (
    <section class="page" aria-labelledby="operators-only">
      <div class="card empty">
        <h1 id="operators-only">Operators only</h1>
        <p class="muted">
          The attention list is for the platform's operators: sign in with an admin token to see it.{' '}
          <Link href="/sites">Go to your sites</Link>.
        </p>
      </div>
    </section>
  );
}

/** The operator's attention list: domains whose certificate failed, blocked claims, failing verifications, and the certificate order budget. */
export function Attention(props: { session: Session; onUnauthorized: () => void }) {
  const operator = props.session.kind === 'admin';
  const [data, setData] = useState<AttentionList | undefined>();
  const [tenantNames, setTenantNames] = useState<Record<string, string>>({});
  const [loading, setLoading] = useState(operator);
  const [forbidden, setForbidden] = useState(!operator);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [blockTarget, setBlockTarget] = useState<BlockTarget | undefined>();

  async function load() {
    setLoading(true);
    setError('');
    try {
      setData(await attention());
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) return setForbidden(true);
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setError(m);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (operator) load();
  }, [operator]);

  // The domains carry tenant ids; show their names.
  useEffect(() => {
    const ids = [...new Set((data?.domains ?? []).map((d) => d.tenant_id))].filter((id) => !(id in tenantNames));
    if (ids.length === 0) return;
    Promise.all(ids.map((id) => api.tenant(id).then((t) => [id, t.name] as const, () => [id, id] as const))).then((pairs) =>
      setTenantNames((prev) => ({ ...prev, ...Object.fromEntries(pairs) })),
    );
  }, [data]);

  if (forbidden) return <OperatorsOnly />;

  const domains = data?.domains ?? [];
  const orders = data?.cert_orders;
  const b = orders ? budget(orders) : undefined;
  return (
    <section class="page" aria-labelledby="attention-title">
      <div class="page-head">
        <div>
          <h1 id="attention-title">Attention</h1>
          <p class="muted">Custom domains an operator should look at, and the certificate budget.</p>
        </div>
        <button type="button" class="button" disabled={loading} onClick={() => load()}>
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="the attention list" error={error} onRetry={load} />

      <section class="card panel budget-card" aria-labelledby="budget-title">
        <h2 id="budget-title">Certificate orders this hour</h2>
        {!data && loading && <p class="muted">Loading…</p>}
        {data && !orders && <p class="muted">TLS is off on this platform: no certificates are ordered.</p>}
        {orders && b && (
          <>
            <p class="budget-figure">
              <strong>{orders.last_hour.toLocaleString('en')}</strong>
              {orders.cap > 0 && <span class="muted"> / {orders.cap.toLocaleString('en')}</span>}
            </p>
            {orders.cap > 0 && (
              <div
                class={'budget-meter budget-meter-' + b.level}
                role="meter"
                aria-label="Certificate orders used this hour"
                aria-valuemin={0}
                aria-valuemax={orders.cap}
                aria-valuenow={Math.min(orders.last_hour, orders.cap)}
                aria-valuetext={b.text}
              >
                <span class="budget-meter-bar" style={{ width: `${(b.ratio * 100).toFixed(1)}%` }} />
              </div>
            )}
            <p class="note">
              {b.text}, across every node.{' '}
              {b.level === 'full' ? 'New certificates wait until older orders leave the hour.' : ''}
            </p>
          </>
        )}
      </section>

      <section class="card dcard attention-card" aria-labelledby="domains-title">
        <div class="card-head">
          <h2 id="domains-title">Domains</h2>
          <span class="muted" role="status" aria-live="polite">
            {loading && !data ? 'Loading…' : data ? plural(domains.length, 'domain') + (domains.length >= 200 ? ' (the newest 200)' : '') : ''}
          </span>
        </div>
        {data && domains.length === 0 && (
          <div class="empty">
            <h3>Nothing needs attention</h3>
            <p class="muted">No failed certificate, blocked claim or failing verification.</p>
          </div>
        )}
        {domains.length > 0 && (
          <ul class="attention-list" aria-label="Domains needing attention">
            {domains.map((d) => {
              const item = attentionItem(d);
              const tenant = tenantNames[d.tenant_id] ?? d.tenant_id;
              return (
                <li key={d.hostname + d.site_id} class={'attention-item attention-' + item.kind} aria-label={`${d.hostname}: ${item.label}`}>
                  <div class="attention-main">
                    <div class="attention-title">
                      <strong class="url">{d.hostname}</strong>
                      <span class={'pill pill-' + (item.kind === 'blocked' ? 'blocked' : item.kind === 'cert_failed' ? 'cert-failed' : 'pending')}>
                        {item.label}
                      </span>
                    </div>
                    <p class="attention-reason">{item.reason}</p>
                    <p class="note">
                      Site{' '}
                      {d.site ? <Link href={sitePath(d.site, 'domains')}>{d.site}</Link> : <code>{d.site_id}</code>} · tenant{' '}
                      <Link href={tenantPath(tenant)}>{tenant}</Link> · {domainStatusLabel(d.status)} · certificate{' '}
                      {certStatusLabel(d.cert_status).toLowerCase()}
                    </p>
                  </div>
                  <div class="attention-when">
                    {item.when && (
                      <span>
                        {item.whenLabel}{' '}
                        <time dateTime={item.when} title={absoluteTime(item.when)}>
                          {relativeTime(item.when)}
                        </time>
                      </span>
                    )}
                    {item.next && (
                      <span class="note">
                        {item.kind === 'cert_failed' ? 'retry' : 'next check'}{' '}
                        <time dateTime={item.next} title={absoluteTime(item.next)}>
                          {relativeTime(item.next)}
                        </time>
                      </span>
                    )}
                    {item.kind === 'blocked' && (
                      <button
                        type="button"
                        class="button button-small attention-action"
                        aria-label={`Unblock ${d.hostname}`}
                        onClick={() => setBlockTarget({ domain: d, action: 'unblock' })}
                      >
                        Unblock
                      </button>
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      <DomainBlockDialog
        target={blockTarget}
        onClose={() => setBlockTarget(undefined)}
        onUnauthorized={props.onUnauthorized}
        onDone={(_, text) => {
          setBlockTarget(undefined);
          setNotice(text);
          load();
        }}
      />
    </section>
  );
}
