import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Session } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import { deleteKey, getNamespace, getValue, listKeys, putValue, type KVKey, type KVNamespace, type KVValue } from '../api-kv';
import { absoluteTime, bytes, kvPath, relativeTime } from '../format';
import { downloadName, expiryText, fieldOf, KEYS_PAGE, kvKeyError, MAX_KV_KEY_BYTES, namespaceSummary, parseTTL, showValue } from '../kv';
import { Link } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';
import { KVNeedsTenantToken, KVNotFound } from './KV';

/** /tenants/<name>/kv/<namespace>: browse a namespace's keys, read a value, put and delete keys. */
export function KVNamespacePage(props: { tenant: string; namespace: string; session: Session; onUnauthorized: () => void }) {
  if (props.session.site) return <KVNeedsTenantToken />;
  return <Namespace {...props} tenantView={props.session.kind !== 'admin'} />;
}

/** The value open in the viewer: loading, loaded, or failed. */
type Open = { key: string; value?: KVValue; error?: string };

function Namespace(props: { tenant: string; namespace: string; tenantView: boolean; onUnauthorized: () => void }) {
  const [ns, setNs] = useState<KVNamespace | undefined>();
  const [missing, setMissing] = useState(false);
  const [loadError, setLoadError] = useState('');
  const [notice, setNotice] = useState('');
  const [prefixText, setPrefixText] = useState('');
  const [prefix, setPrefix] = useState('');
  const [open, setOpen] = useState<Open | undefined>();
  const [target, setTarget] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState('');
  const [edit, setEdit] = useState<{ key: string; text: string; n: number } | undefined>();
  const viewerRef = useRef<HTMLHeadingElement>(null);
  // The key button that opened the viewer, for focus when it closes.
  const openerRef = useRef<HTMLElement | null>(null);

  async function loadNamespace() {
    setLoadError('');
    try {
      setNs(await getNamespace(props.tenant, props.namespace));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      const m = failed(err, props.onUnauthorized);
      if (m) setLoadError(m);
    }
  }

  useEffect(() => {
    setNs(undefined);
    setMissing(false);
    setOpen(undefined);
    loadNamespace();
  }, [props.tenant, props.namespace]);

  const list = usePagedList((cursor) => listKeys(ns!.id, { prefix, cursor, limit: KEYS_PAGE }), [ns?.id, prefix], {
    onUnauthorized: props.onUnauthorized,
    enabled: ns !== undefined,
    missingOn404: true,
    onMissing: () => setMissing(true),
    pageSize: KEYS_PAGE,
  });
  const { items, setItems, next, loading, error } = list;

  useEffect(() => {
    if (open && !open.value && !open.error) viewerRef.current?.focus();
  }, [open?.key]);

  async function view(key: string, opener?: HTMLElement) {
    if (!ns) return;
    if (opener) openerRef.current = opener;
    setOpen({ key });
    try {
      const value = await getValue(ns.id, key);
      setOpen((o) => (o?.key === key ? { key, value } : o));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setItems((prev) => prev.filter((k) => k.name !== key));
        setOpen((o) => (o?.key === key ? { key, error: `The key ${key} no longer exists: it was deleted or it expired.` } : o));
        return;
      }
      const m = failed(err, props.onUnauthorized);
      if (m) setOpen((o) => (o?.key === key ? { key, error: m } : o));
    }
  }

  function closeViewer() {
    setOpen(undefined);
    const o = openerRef.current;
    if (o && o.isConnected) o.focus();
  }

  async function saved(key: string) {
    setNotice(`Saved the key ${key}.`);
    loadNamespace();
    try {
      await list.refresh();
    } catch {
      // The list keeps what it showed; its next load says what failed.
    }
    if (open?.key === key) view(key);
  }

  async function remove() {
    if (!ns || target === undefined) return;
    const key = target;
    setBusy(true);
    setDialogError('');
    try {
      await deleteKey(ns.id, key);
      setItems((prev) => prev.filter((k) => k.name !== key));
      if (open?.key === key) setOpen(undefined);
      setNotice(`Deleted the key ${key}.`);
      setTarget(undefined);
      loadNamespace();
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) setDialogError(m);
    } finally {
      setBusy(false);
    }
  }

  if (missing) return <KVNotFound what="namespace" name={props.namespace} tenant={props.tenant} tenantView={props.tenantView} />;
  const summary = ns ? namespaceSummary(ns) : '';
  return (
    <section class="page" aria-labelledby="kv-ns-title">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        {!props.tenantView && (
          <>
            <Link href="/tenants">Tenants</Link>
            <span aria-hidden="true"> / </span>
          </>
        )}
        <span>{props.tenant}</span>
        <span aria-hidden="true"> / </span>
        <Link href={kvPath(props.tenant)}>KV</Link>
        <span aria-hidden="true"> / </span>
        <span>{props.namespace}</span>
      </nav>
      <div class="page-head">
        <div class="title-row">
          <h1 id="kv-ns-title" class="site-title">
            {props.namespace}
          </h1>
          {summary && <span class="pill">{summary}</span>}
        </div>
        {ns && (
          <div class="head-actions">
            <button type="button" class="button" onClick={() => document.getElementById('kv-put-key')?.focus()}>
              Put a key
            </button>
          </div>
        )}
      </div>
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="the namespace" error={loadError} onRetry={loadNamespace} />
      {!ns && !loadError && (
        <p class="muted" role="status">
          Loading namespace…
        </p>
      )}
      {ns && (
        <div class="kv-layout">
          <section class="card settings-section kv-main" aria-labelledby="kv-keys-title">
            <div class="settings-head">
              <h2 id="kv-keys-title" tabIndex={-1}>Keys</h2>
              <p class="muted">In key order. Values are read one at a time: choose a key to see its value.</p>
            </div>
            <form
              class="token-form"
              role="search"
              aria-label="Filter keys"
              onSubmit={(e) => {
                e.preventDefault();
                setPrefix(prefixText);
              }}
            >
              <div class="token-form-field">
                <label for="kv-prefix">Key prefix</label>
                <input
                  id="kv-prefix"
                  type="search"
                  class="mono"
                  placeholder="e.g. posts/"
                  value={prefixText}
                  autocomplete="off"
                  autocapitalize="off"
                  spellcheck={false}
                  onInput={(e) => setPrefixText((e.target as HTMLInputElement).value)}
                />
              </div>
              <button type="submit" class="button">
                Filter
              </button>
              {prefix !== '' && (
                <button
                  type="button"
                  class="button button-quiet"
                  onClick={() => {
                    setPrefixText('');
                    setPrefix('');
                  }}
                >
                  Show all keys
                </button>
              )}
            </form>
            <LoadError what="the keys" error={error} onRetry={list.reload} class="settings-alert" />
            {loading && items.length === 0 && (
              <p class="settings-text muted" role="status">
                Loading keys…
              </p>
            )}
            {!loading && !error && items.length === 0 && (
              <div class="empty empty-small">
                <h3>{prefix ? 'No keys start with that prefix' : 'No keys yet'}</h3>
                <p class="muted">{prefix ? <>Nothing in {ns.name} starts with <code>{prefix}</code>.</> : 'Put one below, or let a worker write them.'}</p>
              </div>
            )}
            {items.length > 0 && (
              <KeysTable
                keys={items}
                current={open?.key}
                label={prefix ? `Keys starting with ${prefix}` : `Keys of ${ns.name}`}
                onView={view}
                onDelete={(k) => {
                  setDialogError('');
                  setTarget(k);
                }}
              />
            )}
            <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more keys" />
          </section>

          <div class="kv-side">
            {open && (
              <ValueViewer
                open={open}
                headingRef={viewerRef}
                onClose={closeViewer}
                onEdit={(text) => setEdit((e) => ({ key: open.key, text, n: (e?.n ?? 0) + 1 }))}
                onDelete={() => {
                  setDialogError('');
                  setTarget(open.key);
                }}
              />
            )}

            <PutKey ns={ns} edit={edit} onSaved={saved} onUnauthorized={props.onUnauthorized} />
          </div>
        </div>
      )}

      <ConfirmDialog
        fallbackFocus="kv-keys-title"
        open={target !== undefined}
        title={target !== undefined ? `Delete the key ${target}?` : ''}
        confirmLabel="Delete key"
        danger
        busy={busy}
        error={dialogError}
        onConfirm={remove}
        onClose={() => setTarget(undefined)}
      >
        {target !== undefined && (
          <p>
            <code>{target}</code> and its value are deleted from <strong>{props.namespace}</strong>: workers reading it find
            nothing from now on. This cannot be undone.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

/** The keys loaded so far: name (a button that opens the value), size, expiry, last write, Delete. */
function KeysTable(props: {
  keys: KVKey[];
  current?: string;
  label: string;
  onView: (key: string, opener: HTMLElement) => void;
  onDelete: (key: string) => void;
}) {
  const now = new Date();
  return (
    <table class="table kv-table kv-keys" aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Size</th>
          <th scope="col">Expires</th>
          <th scope="col">Updated</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.keys.map((k) => (
          <tr key={k.name} class={props.current === k.name ? 'kv-current' : undefined}>
            <th scope="row" data-label="Key">
              <button
                type="button"
                class="link-button mono kv-key"
                aria-label={`View key ${k.name}`}
                aria-expanded={props.current === k.name}
                onClick={(e) => props.onView(k.name, e.currentTarget as HTMLElement)}
              >
                {k.name}
              </button>
            </th>
            <td data-label="Size">{bytes(k.size)}</td>
            <td data-label="Expires">
              {k.expires_at ? (
                <time dateTime={k.expires_at} title={absoluteTime(k.expires_at)}>
                  {expiryText(k.expires_at, now)}
                </time>
              ) : (
                <span class="muted">Never</span>
              )}
            </td>
            <td data-label="Updated">
              <time dateTime={k.updated_at} title={absoluteTime(k.updated_at)}>
                {relativeTime(k.updated_at, now)}
              </time>
            </td>
            <td class="kv-actions" data-label="">
              <button
                type="button"
                class="button button-quiet button-small button-danger-quiet"
                aria-label={`Delete key ${k.name}`}
                onClick={() => props.onDelete(k.name)}
              >
                Delete
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The value of the open key: text when it is UTF-8, else its size and a download. */
function ValueViewer(props: {
  open: Open;
  headingRef: { current: HTMLHeadingElement | null };
  onClose: () => void;
  onEdit: (text: string) => void;
  onDelete: () => void;
}) {
  const { key, value, error } = props.open;
  const shown = value ? showValue(value.bytes) : undefined;
  function download() {
    if (!value) return;
    const url = URL.createObjectURL(new Blob([value.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = downloadName(key);
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  return (
    <section class="card settings-section kv-viewer" aria-labelledby="kv-value-title">
      <div class="card-head">
        <h2 id="kv-value-title" tabIndex={-1} ref={props.headingRef}>
          Value of <code class="kv-key">{key}</code>
        </h2>
        <button type="button" class="button button-quiet button-small" onClick={props.onClose}>
          Close value
        </button>
      </div>
      {!value && !error && (
        <p class="settings-text muted" role="status">
          Loading value…
        </p>
      )}
      {error && (
        <p class="alert alert-error settings-alert" role="alert">
          {error}
        </p>
      )}
      {value && shown && (
        <div class="panel">
          <dl class="facts facts-row kv-facts">
            <div>
              <dt>Size</dt>
              <dd>{bytes(value.bytes.length)}</dd>
            </div>
            <div>
              <dt>Expires</dt>
              <dd>
                {value.expires_at ? (
                  <time dateTime={value.expires_at} title={absoluteTime(value.expires_at)}>
                    {expiryText(value.expires_at)}
                  </time>
                ) : (
                  'Never'
                )}
              </dd>
            </div>
            <div>
              <dt>Shown as</dt>
              <dd>{shown.kind === 'text' ? 'UTF-8 text' : shown.reason === 'large' ? 'Too large to show' : 'Binary data'}</dd>
            </div>
          </dl>
          {shown.kind === 'text' ? (
            <pre class="kv-value" tabIndex={0} aria-label={`Value of ${key}`}>
              {shown.text === '' ? <span class="muted">(empty)</span> : shown.text}
            </pre>
          ) : (
            <p class="settings-text kv-binary">
              {shown.reason === 'large'
                ? `This value is ${bytes(value.bytes.length)} of text: too large to show here. Download it to read it.`
                : `This value is ${bytes(value.bytes.length)} of binary data (not UTF-8 text). Download it to read it.`}
            </p>
          )}
          <div class="form-actions">
            <button type="button" class="button button-quiet button-danger-quiet" onClick={props.onDelete}>
              Delete key
            </button>
            <button type="button" class="button" onClick={download}>
              Download value
            </button>
            {shown.kind === 'text' && (
              <button type="button" class="button button-primary" onClick={() => props.onEdit(shown.text)}>
                Edit value
              </button>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

type PutField = 'key' | 'value' | 'ttl';

/** Put a key: its name, its value as text, an optional TTL; the API's refusals next to the field they are about. */
function PutKey(props: {
  ns: KVNamespace;
  edit?: { key: string; text: string; n: number };
  onSaved: (key: string) => void;
  onUnauthorized: () => void;
}) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [ttl, setTtl] = useState('');
  const [errors, setErrors] = useState<Partial<Record<PutField, string>>>({});
  const [saving, setSaving] = useState(false);
  const refs = { key: useRef<HTMLInputElement>(null), value: useRef<HTMLTextAreaElement>(null), ttl: useRef<HTMLInputElement>(null) };

  // "Edit value" in the viewer: the key and its text here, ready to change.
  useEffect(() => {
    if (!props.edit) return;
    setKey(props.edit.key);
    setValue(props.edit.text);
    setTtl('');
    setErrors({});
    refs.value.current?.focus();
  }, [props.edit?.n]);

  async function save(e: Event) {
    e.preventDefault();
    const t = parseTTL(ttl);
    const problems: Partial<Record<PutField, string>> = {};
    const keyProblem = kvKeyError(key);
    if (keyProblem) problems.key = keyProblem;
    if (t.error) problems.ttl = t.error;
    setErrors(problems);
    const first = (['key', 'ttl'] as const).find((f) => problems[f]);
    if (first) {
      refs[first].current?.focus();
      return;
    }
    setSaving(true);
    try {
      await putValue(props.ns.id, key, value, t.ttl);
      const k = key;
      setKey('');
      setValue('');
      setTtl('');
      props.onSaved(k);
      refs.key.current?.focus();
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) {
        const f = fieldOf(err, ['key', 'value', 'ttl'] as const, 'key');
        setErrors({ [f]: m });
        refs[f].current?.focus();
      }
    } finally {
      setSaving(false);
    }
  }

  const describe = (f: PutField, hint?: string) => [errors[f] ? `kv-put-${f}-error` : '', hint ?? ''].filter(Boolean).join(' ') || undefined;
  const fieldError = (f: PutField) =>
    errors[f] && (
      <p id={`kv-put-${f}-error`} class="field-error" role="alert">
        {errors[f]}
      </p>
    );
  return (
    <section class="card settings-section" aria-labelledby="kv-put-title">
      <div class="settings-head">
        <h2 id="kv-put-title">Put a key</h2>
        <p class="muted">Writes the value as text (UTF-8), replacing the key’s value and expiry if it exists.</p>
      </div>
      <form class="panel kv-put" onSubmit={save} noValidate>
        <div class="form-grid">
          <div class="field">
            <label for="kv-put-key">Key</label>
            <input
              id="kv-put-key"
              ref={refs.key}
              type="text"
              class="mono"
              placeholder="e.g. posts/hello"
              value={key}
              autocomplete="off"
              autocapitalize="off"
              spellcheck={false}
              aria-invalid={errors.key ? true : undefined}
              aria-describedby={describe('key', 'kv-put-key-hint')}
              onInput={(e) => {
                setKey((e.target as HTMLInputElement).value);
                if (errors.key) setErrors((x) => ({ ...x, key: undefined }));
              }}
            />
            <p id="kv-put-key-hint" class="hint">
              Up to {MAX_KV_KEY_BYTES} bytes; any text, “/” included.
            </p>
            {fieldError('key')}
          </div>
          <div class="field">
            <label for="kv-put-ttl">Expires after (seconds)</label>
            <input
              id="kv-put-ttl"
              ref={refs.ttl}
              type="text"
              inputMode="numeric"
              placeholder="never"
              value={ttl}
              autocomplete="off"
              aria-invalid={errors.ttl ? true : undefined}
              aria-describedby={describe('ttl', 'kv-put-ttl-hint')}
              onInput={(e) => {
                setTtl((e.target as HTMLInputElement).value);
                if (errors.ttl) setErrors((x) => ({ ...x, ttl: undefined }));
              }}
            />
            <p id="kv-put-ttl-hint" class="hint">
              Optional. Empty: the key never expires.
            </p>
            {fieldError('ttl')}
          </div>
          <div class="field field-wide">
            <label for="kv-put-value">Value</label>
            <textarea
              id="kv-put-value"
              ref={refs.value}
              class="mono kv-textarea"
              rows={6}
              value={value}
              spellcheck={false}
              aria-invalid={errors.value ? true : undefined}
              aria-describedby={describe('value')}
              onInput={(e) => {
                setValue((e.target as HTMLTextAreaElement).value);
                if (errors.value) setErrors((x) => ({ ...x, value: undefined }));
              }}
            />
            {fieldError('value')}
          </div>
          <div class="form-actions field-wide">
            <button type="submit" class="button button-primary" disabled={saving}>
              {saving ? 'Saving…' : 'Save key'}
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
