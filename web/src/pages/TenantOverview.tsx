import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Limits, type Session } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import {
  createTenantToken,
  deleteTenant,
  getTenant,
  revokeToken,
  tenantTokens,
  updateTenant,
  type CreatedToken,
  type TenantInfo,
  type Token,
} from '../api-tenants';
import { absoluteTime, displayURL, plural, relativeTime, sitePath, tenantPath } from '../format';
import { navigate } from '../router';
import { Link } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { OperatorsOnly, TenantFrame, TenantNotFound, TenantStatus } from '../components/TenantFrame';
import { SecretOnce } from '../components/SecretOnce';
import {
  ALL_LIMIT_FIELDS,
  GIT_LIMIT_FIELDS,
  RATE_LIMIT_FIELDS,
  RETENTION_LIMIT_FIELDS,
  QUOTA_FIELDS,
  quotaRows,
  limitRows,
  limitsBody,
  type LimitRow,
  limitsDiffer,
  parseLimit,
  parseTags,
  PLAN_NAMES,
  planLabel,
  setFlash,
  typedMatches,
  keepEdits,
} from '../tenants';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';

/** Sites and tokens per request. */
export const TENANT_LIST_PAGE = 20;

/** An operator's view of one tenant: plan and limits, tags, status, sites, tokens, delete. */
export function TenantOverview(props: { session: Session; tenant: string; onUnauthorized: () => void }) {
  if (props.session.kind !== 'admin') return <OperatorsOnly />;
  return <TenantDetail tenant={props.tenant} onUnauthorized={props.onUnauthorized} />;
}

type Pending = { kind: 'disable' } | { kind: 'enable' } | { kind: 'delete' } | { kind: 'revoke'; token: Token };

function TenantDetail(props: { tenant: string; onUnauthorized: () => void }) {
  const [tenant, setTenant] = useState<TenantInfo | undefined>();
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  // The tenant first, then its sites and its tokens.
  useEffect(() => {
    loadTenant();
  }, [props.tenant]);
  const sitesList = usePagedList((cursor) => api.sites({ tenant: props.tenant, limit: TENANT_LIST_PAGE, cursor }), [props.tenant], {
    onUnauthorized: props.onUnauthorized,
    keepItems: true,
  });
  const { items: sites, next: sitesNext, error: sitesError, loading: sitesLoading } = sitesList;
  const tokensList = usePagedList((cursor) => tenantTokens(props.tenant, { limit: TENANT_LIST_PAGE, cursor }), [props.tenant], {
    onUnauthorized: props.onUnauthorized,
    keepItems: true,
  });
  const { items: tokens, setItems: setTokens, next: tokensNext, error: tokensError, loading: tokensLoading } = tokensList;

  const [pending, setPending] = useState<Pending | undefined>();
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState('');
  const [typed, setTyped] = useState('');

  async function loadTenant() {
    setError('');
    try {
      setTenant(await getTenant(props.tenant));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      const m = failed(err, props.onUnauthorized);
      if (m) setError(m);
    }
  }

  function open(p: Pending) {
    setDialogError('');
    setTyped('');
    setPending(p);
  }

  async function confirm() {
    if (!pending || !tenant) return;
    setBusy(true);
    setDialogError('');
    try {
      if (pending.kind === 'disable' || pending.kind === 'enable') {
        const t = await updateTenant(tenant.id, { disabled: pending.kind === 'disable' });
        setTenant(t);
        setNotice(t.disabled ? `Disabled ${t.name}: its sites no longer serve.` : `Enabled ${t.name}: its sites serve again.`);
      } else if (pending.kind === 'revoke') {
        await revokeToken(pending.token.id);
        setTokens((prev) => prev.filter((x) => x.id !== pending.token.id));
        setNotice(`Revoked the token “${pending.token.name}”: it no longer works.`);
      } else if (pending.kind === 'delete') {
        if (!typedMatches(typed, tenant.name)) return;
        await deleteTenant(tenant.id);
        setFlash(`Deleted tenant ${tenant.name} and everything it owned.`);
        setPending(undefined);
        navigate('/tenants');
        return;
      }
      setPending(undefined);
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) setDialogError(m);
    } finally {
      setBusy(false);
    }
  }

  if (missing) return <TenantNotFound tenant={props.tenant} />;

  return (
    <TenantFrame
      tenant={props.tenant}
      tab="overview"
      status={tenant && <TenantStatus disabled={tenant.disabled} />}
      actions={
        tenant && (
          <div class="head-actions">
            <button type="button" class="button" onClick={() => open({ kind: tenant.disabled ? 'enable' : 'disable' })}>
              {tenant.disabled ? 'Enable tenant' : 'Disable tenant'}
            </button>
          </div>
        )
      }
    >
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="the tenant" error={error} onRetry={loadTenant} />
      {!tenant && !error && (
        <p class="muted" role="status">
          Loading tenant…
        </p>
      )}
      {tenant && (
        <div class="grid">
          <PlanAndLimits
            tenant={tenant}
            onSaved={(t) => {
              setTenant(t);
              setNotice(`Saved the plan and limits of ${t.name}.`);
            }}
            onUnauthorized={props.onUnauthorized}
          />
          <QuotaUsageCard tenant={tenant} />
          <Tags
            tenant={tenant}
            onSaved={(t) => {
              setTenant(t);
              setNotice(`Saved the tags of ${t.name}.`);
            }}
            onUnauthorized={props.onUnauthorized}
          />

          <section class="card" aria-labelledby="tenant-facts">
            <div class="card-head">
              <h2 id="tenant-facts">About</h2>
              <Link href={tenantPath(tenant.name, 'analytics')}>Analytics</Link>
            </div>
            <dl class="panel facts facts-tight">
              <div>
                <dt>ID</dt>
                <dd>
                  <code>{tenant.id}</code>
                </dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>
                  <time dateTime={tenant.created_at} title={absoluteTime(tenant.created_at)}>
                    {relativeTime(tenant.created_at)}
                  </time>
                </dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>{tenant.disabled ? 'Disabled: its sites do not serve and its tokens may only read.' : 'Active'}</dd>
              </div>
            </dl>
          </section>

          <section class="card" aria-labelledby="tenant-sites">
            <div class="card-head">
              <h2 id="tenant-sites">Sites</h2>
              <span class="muted">{sitesLoading && sites.length === 0 ? 'Loading…' : plural(sites.length, 'site') + (sitesNext ? ' loaded' : '')}</span>
            </div>
            {sitesError && (
              <p class="alert alert-error" role="alert">
                Loading sites failed: {sitesError}
              </p>
            )}
            {sites.length > 0 ? (
              <ul class="list" aria-label={`Sites of ${tenant.name}`}>
                {sites.map((s) => (
                  <li key={s.id}>
                    <Link href={sitePath(s.name)} class="site-link">
                      <strong class="site-name">{s.name}</strong>
                    </Link>
                    <span class="muted url">{displayURL(s.url)}</span>
                    {s.active_deployment ? (
                      <span class="pill pill-live">
                        <span class="dot" aria-hidden="true" />
                        Live
                      </span>
                    ) : (
                      <span class="pill">Not deployed</span>
                    )}
                  </li>
                ))}
              </ul>
            ) : (
              !sitesLoading && !sitesError && <p class="panel muted">No sites yet.</p>
            )}
            <LoadMore next={sitesNext} loading={sitesLoading} onMore={sitesList.loadMore} label="Load more sites" sayLoading={false} />
          </section>

          <Tokens
            tenant={tenant}
            tokens={tokens}
            loading={tokensLoading}
            error={tokensError}
            next={tokensNext}
            onMore={tokensList.loadMore}
            onCreated={(t) => setTokens((prev) => [...prev, t])}
            onRevoke={(t) => open({ kind: 'revoke', token: t })}
            onUnauthorized={props.onUnauthorized}
          />

          <section class="card wide danger-zone" aria-labelledby="danger-title">
            <div class="card-head">
              <h2 id="danger-title">Delete tenant</h2>
            </div>
            <div class="panel danger-body">
              <p>
                Deletes {tenant.name} and everything it owns: {sitesNext ? 'all its sites' : plural(sites.length, 'site')} with
                their deployments and domains, and its tokens. It cannot be undone.
              </p>
              <button type="button" class="button button-danger" onClick={() => open({ kind: 'delete' })}>
                Delete tenant
              </button>
            </div>
          </section>
        </div>
      )}

      <ConfirmDialog
        open={!!pending && !!tenant}
        title={dialogTitle(pending, tenant?.name ?? '')}
        confirmLabel={
          pending?.kind === 'delete'
            ? 'Delete tenant'
            : pending?.kind === 'revoke'
              ? 'Revoke token'
              : pending?.kind === 'enable'
                ? 'Enable tenant'
                : 'Disable tenant'
        }
        busy={busy}
        confirmDisabled={pending?.kind === 'delete' && !typedMatches(typed, tenant?.name ?? '')}
        danger={pending?.kind === 'delete' || pending?.kind === 'revoke'}
        error={dialogError}
        onConfirm={confirm}
        onClose={() => setPending(undefined)}
      >
        {tenant && pending?.kind === 'disable' && (
          <p>
            Its sites stop serving at once ({sitesNext ? 'all of them' : plural(sites.length, 'site')}), and its tokens may only
            read, until you enable it again.
          </p>
        )}
        {tenant && pending?.kind === 'enable' && <p>{tenant.name}’s sites serve again at once, and its tokens may change things again.</p>}
        {pending?.kind === 'revoke' && (
          <p>
            The token “{pending.token.name}” (<code>{pending.token.id}</code>) stops working at once, and every console session
            signed in with it ends.
          </p>
        )}
        {tenant && pending?.kind === 'delete' && (
          <>
            <p>
              This deletes <strong>{tenant.name}</strong> and everything it owns:{' '}
              {sitesNext ? 'all its sites' : plural(sites.length, 'site')} (they stop serving at once) with their deployments and
              domains, and {tokensNext ? 'all its tokens' : plural(tokens.length, 'token')}. It cannot be undone.
            </p>
            <label for="confirm-name" class="confirm-label">
              Type <strong>{tenant.name}</strong> to confirm
            </label>
            <input
              id="confirm-name"
              autocomplete="off"
              spellcheck={false}
              autofocus
              value={typed}
              onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
            />
          </>
        )}
      </ConfirmDialog>
    </TenantFrame>
  );
}

function dialogTitle(p: Pending | undefined, name: string): string {
  switch (p?.kind) {
    case 'disable':
      return `Disable ${name}?`;
    case 'enable':
      return `Enable ${name}?`;
    case 'delete':
      return `Delete ${name}?`;
    case 'revoke':
      return `Revoke “${p.token.name}”?`;
  }
  return '';
}

/** The plan and the limit overrides: each limit inherited from the plan or overridden. */
function PlanAndLimits(props: { tenant: TenantInfo; onSaved: (t: TenantInfo) => void; onUnauthorized: () => void }) {
  const { tenant } = props;
  const [plan, setPlan] = useState(tenant.plan);
  const [texts, setTexts] = useState<Record<string, string>>(() => overrideTexts(tenant.limits));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  // A newer tenant (this form's save answered, or another card's) resets
  // only the fields the user left as they were: what they are editing,
  // even while a save is in flight, is kept.
  const shown = useRef(tenant);
  useEffect(() => {
    const prev = shown.current;
    shown.current = tenant;
    if (prev === tenant) return;
    setPlan((p) => (p === prev.plan ? tenant.plan : p));
    setTexts((cur) => keepEdits(cur, overrideTexts(prev.limits), overrideTexts(tenant.limits)));
  }, [tenant]);

  const parsed = Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, parseLimit(v)]));
  const overrides: Limits = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.value]));
  const invalid = Object.values(parsed).some((p) => p.error);
  const rows = limitRows(plan, overrides, tenant);
  const gitRows = limitRows(plan, overrides, tenant, GIT_LIMIT_FIELDS);
  const quotaLimitRows = limitRows(plan, overrides, tenant, QUOTA_FIELDS);
  const rateRows = limitRows(plan, overrides, tenant, RATE_LIMIT_FIELDS);
  const retentionRows = limitRows(plan, overrides, tenant, RETENTION_LIMIT_FIELDS);
  const onText = (key: string, text: string) => setTexts((prev) => ({ ...prev, [key]: text }));
  const changed = plan !== tenant.plan || limitsDiffer(overrides, tenant.limits ?? {});

  async function save(e: Event) {
    e.preventDefault();
    if (invalid || !changed) return;
    setBusy(true);
    setError('');
    try {
      props.onSaved(await updateTenant(tenant.id, { plan, limits: limitsBody(overrides) }));
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m === undefined) return;
      const field = err instanceof ApiError && typeof err.details.field === 'string' ? `${err.details.field}: ` : '';
      setError(field + m);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card wide" aria-labelledby="plan-title">
      <div class="card-head">
        <h2 id="plan-title">Plan and limits</h2>
        <span class="muted">
          Per request for the tenant’s workers (CPU per second: all of them together, on each node); per site repository and per push for git; for the tenant as a whole for quotas; per site
          (on each node) for the request rate; per site for deployments. An empty override uses the plan’s value.
        </span>
      </div>
      <form class="panel" onSubmit={save}>
        <div class="field plan-field">
          <label for="tenant-plan">Plan</label>
          <select class="select" id="tenant-plan" value={plan} onChange={(e) => setPlan((e.target as HTMLSelectElement).value)}>
            {PLAN_NAMES.map((p) => (
              <option key={p} value={p}>
                {planLabel(p)}
              </option>
            ))}
          </select>
        </div>
        <LimitsTable caption="Workers" plan={plan} rows={rows} parsed={parsed} texts={texts} onText={onText} />
        <LimitsTable caption="Git" plan={plan} rows={gitRows} parsed={parsed} texts={texts} onText={onText} />
        <LimitsTable caption="Quotas" plan={plan} rows={quotaLimitRows} parsed={parsed} texts={texts} onText={onText} />
        <LimitsTable caption="Request rate" plan={plan} rows={rateRows} parsed={parsed} texts={texts} onText={onText} />
        <LimitsTable caption="Deployments" plan={plan} rows={retentionRows} parsed={parsed} texts={texts} onText={onText} />
        {error && (
          <p class="alert alert-error" role="alert">
            Saving failed: {error}
          </p>
        )}
        <div class="form-actions">
          {changed && (
            <button
              type="button"
              class="button button-quiet"
              onClick={() => {
                setPlan(tenant.plan);
                setTexts(overrideTexts(tenant.limits));
              }}
            >
              Discard changes
            </button>
          )}
          <button type="submit" class="button button-primary" disabled={busy || invalid || !changed}>
            {busy ? 'Saving…' : 'Save plan and limits'}
          </button>
        </div>
      </form>
    </section>
  );
}

/** One group of limits: each row's plan value, its override field and what is in effect. */
function LimitsTable(props: {
  caption: string;
  plan: string;
  rows: LimitRow[];
  parsed: Record<string, { error: string }>;
  texts: Record<string, string>;
  onText: (key: string, text: string) => void;
}) {
  const { plan } = props;
  return (
    <table class="table limits-table">
      <caption class="limits-caption">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Limit</th>
          <th scope="col">{planLabel(plan)} plan</th>
          <th scope="col">Override</th>
          <th scope="col">In effect</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => {
          const err = props.parsed[r.key]?.error;
          const unit = r.unit ? ' ' + r.unit : '';
          return (
            <tr key={r.key}>
              <th scope="row" data-label="Limit">
                {r.label}
              </th>
              <td data-label={`${planLabel(plan)} plan`}>
                {r.planValue}
                {unit}
              </td>
              <td data-label="Override">
                <div class="override">
                  <label for={`limit-${r.key}`} class="sr-only">
                    {r.label} override{r.unit ? ` (${r.unit})` : ''}
                  </label>
                  <input
                    id={`limit-${r.key}`}
                    inputMode="numeric"
                    placeholder={`${r.planValue} (plan)`}
                    value={props.texts[r.key]}
                    aria-invalid={err ? 'true' : undefined}
                    aria-describedby={err ? `limit-${r.key}-error` : undefined}
                    onInput={(e) => props.onText(r.key, (e.target as HTMLInputElement).value)}
                  />
                  {err && (
                    <p id={`limit-${r.key}-error`} class="field-error">
                      {err}
                    </p>
                  )}
                </div>
              </td>
              <td data-label="In effect">
                <span class="effective">
                  <strong>
                    {r.effective}
                    {unit}
                  </strong>{' '}
                  <span class={'pill ' + (r.overridden ? 'pill-override' : '')}>{r.overridden ? 'Overridden' : 'Inherited'}</span>
                </span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function overrideTexts(l: Limits | undefined): Record<string, string> {
  const t = (n: number | undefined) => (n && n > 0 ? String(n) : '');
  return Object.fromEntries(ALL_LIMIT_FIELDS.map(({ key }) => [key, t(l?.[key])]));
}

/** What the tenant uses of its quotas against the limits in effect, as meters. */
function QuotaUsageCard(props: { tenant: TenantInfo }) {
  const { usage, effective_limits: limits } = props.tenant;
  return (
    <section class="card" aria-labelledby="tenant-usage">
      <div class="card-head">
        <h2 id="tenant-usage">Quota usage</h2>
        {limits.workerMB ? <span class="muted">Each worker up to {limits.workerMB} MB</span> : null}
      </div>
      {!usage ? (
        <p class="panel muted">Usage is not available.</p>
      ) : (
        <ul class="panel quota-list" aria-label={`Quota usage of ${props.tenant.name}`}>
          {quotaRows(limits, usage).map((q) => (
            <li key={q.key} class="quota-item">
              <div class="quota-head">
                <span id={`quota-${q.key}`}>{q.label}</span>
                <span class={q.level === 'full' ? 'quota-value quota-full' : 'quota-value'}>{q.text}</span>
              </div>
              <div
                class={'budget-meter budget-meter-' + q.level}
                role="meter"
                aria-labelledby={`quota-${q.key}`}
                aria-valuemin={0}
                aria-valuemax={q.limit}
                aria-valuenow={Math.min(q.used, q.limit)}
                aria-valuetext={q.text}
              >
                <span class="budget-meter-bar" style={{ width: `${(q.ratio * 100).toFixed(1)}%` }} />
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The tags editor: remove one, or add some; each change is saved at once. */
function Tags(props: { tenant: TenantInfo; onSaved: (t: TenantInfo) => void; onUnauthorized: () => void }) {
  const { tenant } = props;
  const tags = tenant.tags ?? [];
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function save(next: string[]): Promise<boolean> {
    setBusy(true);
    setError('');
    try {
      props.onSaved(await updateTenant(tenant.id, { tags: next }));
      return true;
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setError(m);
      return false;
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card" aria-labelledby="tags-title">
      <div class="card-head">
        <h2 id="tags-title">Tags</h2>
        <span class="muted">{plural(tags.length, 'tag')} of 8</span>
      </div>
      <div class="panel">
        {tags.length > 0 ? (
          <ul class="tag-list" aria-label={`Tags of ${tenant.name}`}>
            {tags.map((t) => (
              <li key={t} class="tag tag-removable">
                <Link href={'/tenants?' + new URLSearchParams({ tag: t })} label={`Tenants tagged ${t}`}>
                  {t}
                </Link>
                <button
                  type="button"
                  class="tag-remove"
                  aria-label={`Remove tag ${t}`}
                  title={`Remove tag ${t}`}
                  disabled={busy}
                  onClick={() => save(tags.filter((x) => x !== t))}
                >
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No tags. Tags (key:value) group tenants for filters and bulk changes.</p>
        )}
        <form
          class="add-tag"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = parseTags(text, tags);
            if (r.error) return setError(r.error);
            if (r.tags.length === tags.length) return setError(text.trim() ? 'The tenant already carries that tag.' : 'Write a tag as key:value.');
            if (await save(r.tags)) setText('');
          }}
        >
          <div class="field">
            <label for="add-tag">Add tags</label>
            <input
              id="add-tag"
              value={text}
              placeholder="key:value"
              autocomplete="off"
              spellcheck={false}
              aria-invalid={error ? 'true' : undefined}
              aria-describedby={error ? 'add-tag-error' : undefined}
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" class="button" disabled={busy}>
            Add tag
          </button>
        </form>
        {error && (
          <p id="add-tag-error" class="field-error" role="alert">
            Tags: {error}
          </p>
        )}
      </div>
    </section>
  );
}

/** The tenant's tokens: names and creation times, create one (its secret once), revoke. */
function Tokens(props: {
  tenant: TenantInfo;
  tokens: Token[];
  loading: boolean;
  error: string;
  next?: string;
  onMore: () => void;
  onCreated: (t: Token) => void;
  onRevoke: (t: Token) => void;
  onUnauthorized: () => void;
}) {
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedToken | undefined>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  return (
    <section class="card" aria-labelledby="tokens-title">
      <div class="card-head">
        <h2 id="tokens-title">Tokens</h2>
        <span class="muted">{props.loading && props.tokens.length === 0 ? 'Loading…' : plural(props.tokens.length, 'token') + (props.next ? ' loaded' : '')}</span>
      </div>
      {props.error && (
        <p class="alert alert-error" role="alert">
          Loading tokens failed: {props.error}
        </p>
      )}
      {props.tokens.length > 0 && (
        <ul class="list" aria-label={`Tokens of ${props.tenant.name}`}>
          {props.tokens.map((t) => (
            <li key={t.id} class="token-row">
              <span class="token-name">
                <strong>{t.name}</strong> <code class="muted">{t.id}</code>
                <span class="note">
                  created{' '}
                  <time dateTime={t.created_at} title={absoluteTime(t.created_at)}>
                    {relativeTime(t.created_at)}
                  </time>
                </span>
              </span>
              <button type="button" class="button button-quiet" aria-label={`Revoke token ${t.name}`} onClick={() => props.onRevoke(t)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      {!props.loading && !props.error && props.tokens.length === 0 && <p class="panel muted">No tokens: the tenant cannot sign in yet.</p>}
      <LoadMore next={props.next} loading={props.loading} onMore={props.onMore} label="Load more tokens" sayLoading={false} />
      <div class="panel panel-top">
        {created ? (
          <SecretOnce label={`Token “${created.name}”`} secret={created.token} onDone={() => setCreated(undefined)} />
        ) : (
          <form
            class="add-tag"
            onSubmit={async (e) => {
              e.preventDefault();
              if (!name.trim()) return setError('Give the token a name.');
              setBusy(true);
              setError('');
              try {
                const t = await createTenantToken(props.tenant.id, name.trim());
                setCreated(t);
                props.onCreated({ id: t.id, tenant_id: t.tenant_id, name: t.name, created_at: t.created_at });
                setName('');
              } catch (err) {
                const m = failed(err, props.onUnauthorized);
                if (m !== undefined) setError(m);
              } finally {
                setBusy(false);
              }
            }}
          >
            <div class="field">
              <label for="new-token">New token name</label>
              <input
                id="new-token"
                value={name}
                autocomplete="off"
                aria-invalid={error ? 'true' : undefined}
                aria-describedby={error ? 'new-token-error' : undefined}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
              />
            </div>
            <button type="submit" class="button" disabled={busy}>
              Create token
            </button>
          </form>
        )}
        {error && (
          <p id="new-token-error" class="field-error" role="alert">
            Token name: {error}
          </p>
        )}
      </div>
    </section>
  );
}
