import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Session } from '../api';
import { errorMessage, failed } from '../errors';
import { usePagedList } from '../paged';
import {
  allTenantsTagged,
  bulkTenants,
  createTenant,
  createTenantToken,
  listTenants,
  type BulkResult,
  type CreatedToken,
  type TenantInfo,
} from '../api-tenants';
import { absoluteTime, plural, relativeTime, tenantPath } from '../format';
import { Link } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { OperatorsOnly, TenantStatus } from '../components/TenantFrame';
import { SecretOnce } from '../components/SecretOnce';
import { normalizeTag, parseTags, PLAN_NAMES, planLabel, tagFromSearch, takeFlash, tenantNameError, tenantsURL } from '../tenants';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';

/** Tenants per request. */
export const TENANTS_PAGE = 50;

/** An error in words: a 403 says who may do this. */
function words(err: unknown): string {
  if (err instanceof ApiError && err.code === 'forbidden') return 'Only an operator (admin token) may do this.';
  return errorMessage(err);
}

/** An error's message, or undefined after handing a 401 to onUnauthorized. */
function message(err: unknown, onUnauthorized: () => void): string | undefined {
  return failed(err, onUnauthorized, words);
}

/** The operator's tenants: filter by tag (in the URL), bulk changes by tag, create. */
export function Tenants(props: { session: Session; onUnauthorized: () => void }) {
  if (props.session.kind !== 'admin') return <OperatorsOnly />;
  return <TenantsList onUnauthorized={props.onUnauthorized} />;
}

type BulkAction = { kind: 'plan'; plan: string } | { kind: 'disable' } | { kind: 'enable' };

function TenantsList(props: { onUnauthorized: () => void }) {
  const [tag, setTag] = useState(() => tagFromSearch(location.search));
  const [filterText, setFilterText] = useState(tag);
  const [filterError, setFilterError] = useState('');
  const list = usePagedList((cursor) => listTenants({ tag, limit: TENANTS_PAGE, cursor }), [tag], {
    onUnauthorized: props.onUnauthorized,
    message: words,
    keepItems: true,
  });
  const { items, setItems, next, loading, error } = list;
  const [notice, setNotice] = useState(() => takeFlash());
  const [creating, setCreating] = useState(false);

  // Bulk operations on the filter's tag.
  const [selectAll, setSelectAll] = useState(false);
  const [bulkPlan, setBulkPlan] = useState('pro');
  const [bulk, setBulk] = useState<BulkAction | undefined>();
  const [bulkTargets, setBulkTargets] = useState<TenantInfo[] | undefined>();
  const [bulkBusy, setBulkBusy] = useState(false);
  const [bulkError, setBulkError] = useState('');
  const [bulkDone, setBulkDone] = useState<BulkResult | undefined>();

  // Back and forward between filters (the filter lives in the URL's query).
  useEffect(() => {
    const on = () => {
      const t = tagFromSearch(location.search);
      setFilterText(t);
      setTag(t);
    };
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);

  function applyTag(t: string) {
    setFilterError('');
    setSelectAll(false);
    setBulkDone(undefined);
    history.replaceState(null, '', tenantsURL(t));
    setTag(t);
    if (t === tag) list.reload();
  }

  async function openBulk(action: BulkAction) {
    setBulkError('');
    setBulkTargets(undefined);
    setBulk(action);
    try {
      setBulkTargets(await allTenantsTagged(tag));
    } catch (err) {
      const m = message(err, props.onUnauthorized);
      if (m) setBulkError('Counting the tenants failed: ' + m);
    }
  }

  async function confirmBulk() {
    if (!bulk) return;
    setBulkBusy(true);
    setBulkError('');
    try {
      const body =
        bulk.kind === 'plan' ? { tag, plan: bulk.plan } : { tag, disabled: bulk.kind === 'disable' };
      const res = await bulkTenants(body);
      setBulk(undefined);
      setSelectAll(false);
      setBulkDone(res);
      await list.reload();
    } catch (err) {
      const m = message(err, props.onUnauthorized);
      if (m) setBulkError(m + ' Nothing changed.');
    } finally {
      setBulkBusy(false);
    }
  }

  const changing = bulk && bulkTargets ? bulkTargets.filter((t) => !alreadyAsked(t, bulk)) : undefined;
  const knownCount = next ? undefined : items.length;

  return (
    <section class="page" aria-labelledby="tenants-title">
      <div class="page-head">
        <div>
          <h1 id="tenants-title">Tenants</h1>
          <p class="muted">The customers of this platform: their plans, tags and status.</p>
        </div>
        {!creating && (
          <button type="button" class="button button-primary" onClick={() => setCreating(true)}>
            New tenant
          </button>
        )}
      </div>

      {creating && (
        <NewTenant
          onUnauthorized={props.onUnauthorized}
          onCreated={(t) => setItems((prev) => (prev.some((x) => x.id === t.id) ? prev : [...prev, t].sort((a, b) => (a.name < b.name ? -1 : 1))))}
          onClose={() => setCreating(false)}
        />
      )}

      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>

      <form
        class="filter-bar"
        role="search"
        aria-label="Filter tenants"
        onSubmit={(e) => {
          e.preventDefault();
          const { tag: t, error: err } = normalizeTag(filterText);
          if (err) return setFilterError(err);
          setNotice('');
          applyTag(t);
        }}
      >
        <div class="field">
          <label for="tag-filter">Filter by tag</label>
          <input
            id="tag-filter"
            type="search"
            placeholder="key:value, e.g. env:prod"
            value={filterText}
            aria-invalid={filterError ? 'true' : undefined}
            aria-describedby={filterError ? 'tag-filter-error' : undefined}
            onInput={(e) => setFilterText((e.target as HTMLInputElement).value)}
          />
          {filterError && (
            <p id="tag-filter-error" class="field-error" role="alert">
              {filterError}
            </p>
          )}
        </div>
        <div class="filter-actions">
          <button type="submit" class="button">
            Apply filter
          </button>
          {tag && (
            <button
              type="button"
              class="button button-quiet"
              onClick={() => {
                setFilterText('');
                applyTag('');
              }}
            >
              Clear filter
            </button>
          )}
        </div>
      </form>

      <LoadError what="tenants" error={error} onRetry={list.reload} />

      {tag && items.length > 0 && (
        <section class="card bulk" aria-labelledby="bulk-title">
          <div class="card-head">
            <h2 id="bulk-title">Bulk actions</h2>
            <span class="muted">
              On every tenant tagged <span class="tag">{tag}</span>, in one step: all change, or none.
            </span>
          </div>
          <div class="panel bulk-body">
            <label class="check">
              <input
                type="checkbox"
                checked={selectAll}
                onChange={(e) => setSelectAll((e.target as HTMLInputElement).checked)}
              />
              <span>
                Select all {knownCount !== undefined ? plural(knownCount, 'tenant') : 'tenants'} tagged {tag}
                {knownCount === undefined && ' (more than are loaded)'}
              </span>
            </label>
            <div class="bulk-actions">
              <div class="inline-field">
                <label for="bulk-plan">New plan</label>
                <select class="select" id="bulk-plan" value={bulkPlan} onChange={(e) => setBulkPlan((e.target as HTMLSelectElement).value)}>
                  {PLAN_NAMES.map((p) => (
                    <option key={p} value={p}>
                      {planLabel(p)}
                    </option>
                  ))}
                </select>
              </div>
              <button type="button" class="button" disabled={!selectAll} onClick={() => openBulk({ kind: 'plan', plan: bulkPlan })}>
                Change plan
              </button>
              <button type="button" class="button" disabled={!selectAll} onClick={() => openBulk({ kind: 'disable' })}>
                Disable tenants
              </button>
              <button type="button" class="button" disabled={!selectAll} onClick={() => openBulk({ kind: 'enable' })}>
                Enable tenants
              </button>
            </div>
            {bulkDone && <BulkSummary result={bulkDone} />}
          </div>
        </section>
      )}

      <div class="card">
        <p class="card-meta" role="status" aria-live="polite">
          {loading && items.length === 0
            ? 'Loading tenants…'
            : `${plural(items.length, 'tenant')}${next ? ' loaded' : ''}${tag ? ` tagged ${tag}` : ''}`}
        </p>
        {items.length > 0 && (
          <table class="table tenants-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Plan</th>
                <th scope="col">Tags</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <th scope="row" data-label="Name">
                    <Link href={tenantPath(t.name)} class="site-link">
                      <span class="site-name">{t.name}</span>
                    </Link>
                  </th>
                  <td data-label="Plan">
                    <span class={'plan plan-' + t.plan}>{planLabel(t.plan)}</span>
                  </td>
                  <td data-label="Tags">
                    {(t.tags ?? []).length === 0 ? (
                      <span class="muted">None</span>
                    ) : (
                      <span class="tags">
                        {(t.tags ?? []).map((x) => (
                          <button
                            key={x}
                            type="button"
                            class="tag tag-button"
                            title={`Show the tenants tagged ${x}`}
                            aria-label={`Filter by tag ${x}`}
                            onClick={() => {
                              setFilterText(x);
                              applyTag(x);
                            }}
                          >
                            {x}
                          </button>
                        ))}
                      </span>
                    )}
                  </td>
                  <td data-label="Status">
                    <TenantStatus disabled={t.disabled} />
                  </td>
                  <td data-label="Created">
                    <time dateTime={t.created_at} title={absoluteTime(t.created_at)}>
                      {relativeTime(t.created_at)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!loading && !error && items.length === 0 && (
          <div class="empty">
            {tag ? (
              <>
                <h2>No tenant is tagged {tag}</h2>
                <p class="muted">Tags match exactly, as key:value.</p>
              </>
            ) : (
              <>
                <h2>No tenants yet</h2>
                <p class="muted">Create the first with New tenant, or <code>pier tenants create NAME</code>.</p>
              </>
            )}
          </div>
        )}
        <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more tenants" />
      </div>

      <ConfirmDialog
        open={!!bulk}
        title={bulkTitle(bulk, changing?.length)}
        confirmLabel={bulk?.kind === 'plan' ? 'Change plan' : bulk?.kind === 'disable' ? 'Disable tenants' : 'Enable tenants'}
        busy={bulkBusy}
        confirmDisabled={!changing || changing.length === 0}
        error={bulkError}
        onConfirm={confirmBulk}
        onClose={() => setBulk(undefined)}
      >
        {bulk && !bulkTargets && !bulkError && <p role="status">Counting the tenants tagged {tag}…</p>}
        {bulk && bulkTargets && changing && (
          <>
            <p>
              {plural(bulkTargets.length, 'tenant')} {bulkTargets.length === 1 ? 'is' : 'are'} tagged <strong>{tag}</strong>;{' '}
              <strong>{plural(changing.length, 'tenant')}</strong> will change
              {bulkTargets.length > changing.length && ` (${bulkTargets.length - changing.length} ${alreadyWords(bulk, bulkTargets.length - changing.length)})`}.
            </p>
            {bulk.kind === 'disable' && changing.length > 0 && (
              <p>Their sites stop serving at once, and their tokens may only read, until they are enabled again.</p>
            )}
            {bulk.kind === 'enable' && changing.length > 0 && <p>Their sites serve again at once.</p>}
            {changing.length > 0 && (
              <p class="muted names">
                {changing.slice(0, 8).map((t) => t.name).join(', ')}
                {changing.length > 8 && ` and ${changing.length - 8} more`}
              </p>
            )}
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}

/** Is t already in the state the action asks for? */
function alreadyAsked(t: TenantInfo, a: BulkAction): boolean {
  if (a.kind === 'plan') return t.plan === a.plan;
  return t.disabled === (a.kind === 'disable');
}

/** "is on Pro already", "are disabled already". */
function alreadyWords(a: BulkAction, n: number): string {
  const verb = n === 1 ? 'is' : 'are';
  if (a.kind === 'plan') return `${verb} on ${planLabel(a.plan)} already`;
  return `${verb} ${a.kind === 'disable' ? 'disabled' : 'active'} already`;
}

function bulkTitle(a: BulkAction | undefined, n: number | undefined): string {
  const who = n === undefined ? 'tenants' : plural(n, 'tenant');
  if (!a) return '';
  if (a.kind === 'plan') return `Move ${who} to ${planLabel(a.plan)}?`;
  return `${a.kind === 'disable' ? 'Disable' : 'Enable'} ${who}?`;
}

/** What a bulk operation changed, from the API's answer. */
function BulkSummary(props: { result: BulkResult }) {
  const { result } = props;
  const n = result.changed.length;
  return (
    <div class="alert alert-info bulk-result" role="status">
      <p>
        <strong>
          Changed {n} of {plural(result.matched, 'tenant')} tagged {result.tag}.
        </strong>{' '}
        {n === 0 && 'All of them already were in the asked state.'}
      </p>
      {n > 0 && (
        <ul class="changed">
          {result.changed.map((t) => (
            <li key={t.id}>
              <Link href={tenantPath(t.name)}>{t.name}</Link>: {planLabel(t.plan)}, {t.disabled ? 'disabled' : 'active'}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The New tenant form; once created, an offer to create its first token, whose secret shows once. */
function NewTenant(props: { onUnauthorized: () => void; onCreated: (t: TenantInfo) => void; onClose: () => void }) {
  const [name, setName] = useState('');
  const [plan, setPlan] = useState('free');
  const [tagsText, setTagsText] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<TenantInfo | undefined>();
  const [tokenName, setTokenName] = useState('first token');
  const [token, setToken] = useState<CreatedToken | undefined>();
  const [tokenError, setTokenError] = useState('');

  async function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const nameErr = tenantNameError(name.trim());
    if (nameErr) errs.name = nameErr;
    const tags = parseTags(tagsText);
    if (tags.error) errs.tags = tags.error;
    setErrors(errs);
    setFormError('');
    if (Object.keys(errs).length > 0) return;
    setBusy(true);
    try {
      const t = await createTenant({ name: name.trim(), plan, tags: tags.tags });
      setCreated(t);
      props.onCreated(t);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'conflict') {
        setErrors({ name: `A tenant named ${name.trim()} already exists.` });
      } else if (err instanceof ApiError && typeof err.details.field === 'string' && ['name', 'plan', 'tags'].includes(err.details.field)) {
        setErrors({ [err.details.field]: err.message });
      } else {
        const m = message(err, props.onUnauthorized);
        if (m) setFormError(m);
      }
    } finally {
      setBusy(false);
    }
  }

  async function makeToken(e: Event) {
    e.preventDefault();
    if (!created) return;
    if (!tokenName.trim()) return setTokenError('Give the token a name.');
    setBusy(true);
    setTokenError('');
    try {
      setToken(await createTenantToken(created.name, tokenName.trim()));
    } catch (err) {
      const m = message(err, props.onUnauthorized);
      if (m) setTokenError(m);
    } finally {
      setBusy(false);
    }
  }

  const describe = (field: string, hint?: string) =>
    [hint, errors[field] ? `new-${field}-error` : undefined].filter(Boolean).join(' ') || undefined;

  return (
    <section class="card new-tenant" aria-labelledby="new-tenant-title">
      <div class="card-head">
        <h2 id="new-tenant-title">{created ? `Tenant ${created.name} created` : 'New tenant'}</h2>
      </div>
      {!created && (
        <form class="panel form-grid" onSubmit={submit} noValidate>
          <div class="field">
            <label for="new-name">Name</label>
            <input
              id="new-name"
              value={name}
              autocomplete="off"
              spellcheck={false}
              aria-invalid={errors.name ? 'true' : undefined}
              aria-describedby={describe('name', 'new-name-hint')}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
            <p id="new-name-hint" class="hint">
              Lowercase letters, digits and hyphens.
            </p>
            {errors.name && (
              <p id="new-name-error" class="field-error">
                Name: {errors.name}
              </p>
            )}
          </div>
          <div class="field">
            <label for="new-plan">Plan</label>
            <select
              class="select"
              id="new-plan"
              value={plan}
              aria-invalid={errors.plan ? 'true' : undefined}
              aria-describedby={describe('plan')}
              onChange={(e) => setPlan((e.target as HTMLSelectElement).value)}
            >
              {PLAN_NAMES.map((p) => (
                <option key={p} value={p}>
                  {planLabel(p)}
                </option>
              ))}
            </select>
            {errors.plan && (
              <p id="new-plan-error" class="field-error">
                Plan: {errors.plan}
              </p>
            )}
          </div>
          <div class="field field-wide">
            <label for="new-tags">Tags</label>
            <input
              id="new-tags"
              value={tagsText}
              autocomplete="off"
              spellcheck={false}
              placeholder="env:prod, region:eu"
              aria-invalid={errors.tags ? 'true' : undefined}
              aria-describedby={describe('tags', 'new-tags-hint')}
              onInput={(e) => setTagsText((e.target as HTMLInputElement).value)}
            />
            <p id="new-tags-hint" class="hint">
              key:value, separated by commas or spaces; at most 8.
            </p>
            {errors.tags && (
              <p id="new-tags-error" class="field-error">
                Tags: {errors.tags}
              </p>
            )}
          </div>
          {Object.keys(errors).length > 0 && (
            <p class="sr-only" role="alert">
              {Object.entries(errors)
                .map(([f, m]) => `${f[0].toUpperCase() + f.slice(1)}: ${m}`)
                .join(' ')}
            </p>
          )}
          {formError && (
            <p class="alert alert-error field-wide" role="alert">
              Creating the tenant failed: {formError}
            </p>
          )}
          <div class="form-actions field-wide">
            <button type="button" class="button button-quiet" onClick={props.onClose} disabled={busy}>
              Cancel
            </button>
            <button type="submit" class="button button-primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create tenant'}
            </button>
          </div>
        </form>
      )}
      {created && !token && (
        <form class="panel" onSubmit={makeToken}>
          <p role="status">
            <Link href={tenantPath(created.name)}>{created.name}</Link> is on the {planLabel(created.plan)} plan. It needs a
            token to sign in and deploy: create its first one now?
          </p>
          <div class="token-form">
            <div class="field">
              <label for="first-token-name">Token name</label>
              <input
                id="first-token-name"
                value={tokenName}
                aria-invalid={tokenError ? 'true' : undefined}
                aria-describedby={tokenError ? 'first-token-error' : undefined}
                onInput={(e) => setTokenName((e.target as HTMLInputElement).value)}
              />
            </div>
            <button type="submit" class="button button-primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create token'}
            </button>
            <button type="button" class="button button-quiet" onClick={props.onClose}>
              Not now
            </button>
          </div>
          {tokenError && (
            <p id="first-token-error" class="field-error" role="alert">
              {tokenError}
            </p>
          )}
        </form>
      )}
      {created && token && (
        <div class="panel">
          <SecretOnce label={`Token “${token.name}” of ${created.name}`} secret={token.token} onDone={props.onClose} />
        </div>
      )}
    </section>
  );
}
