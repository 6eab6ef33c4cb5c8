import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { failed } from '../errors';
import { deleteSecret, listSecrets, putSecret, type Secret } from '../api-secrets';
import { absoluteTime, relativeTime } from '../format';
import { fieldOf } from '../kv';
import { MAX_SECRET_NAME, MAX_SECRETS, secretNameError, secretValueError } from '../secrets';
import { ConfirmDialog } from './ConfirmDialog';
import { LoadError } from './LoadError';

type Field = 'name' | 'value';

/**
 * A site's secrets in its settings: their names and update times (the API
 * never answers a value), add or replace one through a password field
 * that is cleared once saved, delete one behind a confirmation.
 */
export function SiteSecrets(props: { site: string; onUnauthorized: () => void; onNotice: (m: string) => void }) {
  const [items, setItems] = useState<Secret[] | undefined>();
  const [loadError, setLoadError] = useState('');
  // A deploy token may be refused secrets (the tenant's to manage).
  const [forbidden, setForbidden] = useState(false);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [saving, setSaving] = useState(false);
  const [target, setTarget] = useState<Secret | undefined>();
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState('');
  const refs = { name: useRef<HTMLInputElement>(null), value: useRef<HTMLInputElement>(null) };

  async function load() {
    setLoadError('');
    try {
      setItems(await listSecrets(props.site));
    } catch (err) {
      // A missing site is the page's to say (it asks for the site itself).
      if (err instanceof ApiError && err.code === 'site_token_forbidden') return setForbidden(true);
      const m = failed(err, props.onUnauthorized);
      if (m) setLoadError(m);
    }
  }

  useEffect(() => {
    setItems(undefined);
    setForbidden(false);
    setName('');
    setValue('');
    setErrors({});
    load();
  }, [props.site]);

  async function save(e: Event) {
    e.preventDefault();
    const n = name.trim();
    const problems: Partial<Record<Field, string>> = {};
    const nameProblem = secretNameError(n);
    const valueProblem = secretValueError(value);
    if (nameProblem) problems.name = nameProblem;
    if (valueProblem) problems.value = valueProblem;
    setErrors(problems);
    if (nameProblem || valueProblem) {
      refs[nameProblem ? 'name' : 'value'].current?.focus();
      return;
    }
    setSaving(true);
    try {
      const s = await putSecret(props.site, n, value);
      const replaced = items?.some((x) => x.name === s.name);
      setItems((prev) => [...(prev ?? []).filter((x) => x.name !== s.name), s].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
      // The value leaves the page as soon as the server has it.
      setValue('');
      setName('');
      props.onNotice(`${replaced ? 'Replaced' : 'Added'} the secret ${s.name}. It applies from the site’s next request.`);
      refs.name.current?.focus();
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) {
        const f = fieldOf(err, ['name', 'value'] as const, 'name');
        setErrors({ [f]: m });
        refs[f].current?.focus();
      }
    } finally {
      setSaving(false);
    }
  }

  async function remove() {
    if (!target) return;
    setBusy(true);
    setDialogError('');
    try {
      await deleteSecret(props.site, target.name);
      setItems((prev) => prev?.filter((x) => x.name !== target.name));
      props.onNotice(`Deleted the secret ${target.name}. It is gone from the site’s next request.`);
      setTarget(undefined);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setItems((prev) => prev?.filter((x) => x.name !== target.name));
        setTarget(undefined);
        return;
      }
      const m = failed(err, props.onUnauthorized);
      if (m) setDialogError(m);
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (f: Field) =>
    errors[f] && (
      <p id={`site-secret-${f}-error`} class="field-error" role="alert">
        {errors[f]}
      </p>
    );
  return (
    <section class="card settings-section" aria-labelledby="secrets-title">
      <div class="settings-head">
        <h2 id="secrets-title" tabIndex={-1}>Secrets</h2>
        <p class="muted">
          Values the worker of <strong>{props.site}</strong> reads like vars (<code>pier.Secret("NAME")</code> in Go), kept
          encrypted. Pier never shows a value again once it is saved.
        </p>
        <p class="muted">A change applies from the site’s next request, without a deploy.</p>
      </div>

      {forbidden ? (
        <p class="settings-text muted">Managing secrets needs a tenant token: you are signed in with a deploy token.</p>
      ) : (
        <form class="panel secret-form" onSubmit={save} noValidate aria-label="Add or replace a secret">
          <div class="form-grid secret-grid">
            <div class="field">
              <label for="site-secret-name">Secret name</label>
              <input
                id="site-secret-name"
                ref={refs.name}
                type="text"
                class="mono"
                placeholder="e.g. API_KEY"
                maxLength={MAX_SECRET_NAME + 1}
                value={name}
                autocomplete="off"
                autocapitalize="off"
                spellcheck={false}
                aria-invalid={errors.name ? true : undefined}
                aria-describedby={errors.name ? 'site-secret-name-error' : undefined}
                onInput={(e) => {
                  setName((e.target as HTMLInputElement).value);
                  if (errors.name) setErrors((x) => ({ ...x, name: undefined }));
                }}
              />
              {fieldError('name')}
            </div>
            <div class="field">
              <label for="site-secret-value">Secret value</label>
              <input
                id="site-secret-value"
                ref={refs.value}
                type="password"
                class="mono"
                value={value}
                autocomplete="off"
                spellcheck={false}
                aria-invalid={errors.value ? true : undefined}
                aria-describedby={errors.value ? 'site-secret-value-error site-secret-value-hint' : 'site-secret-value-hint'}
                onInput={(e) => {
                  setValue((e.target as HTMLInputElement).value);
                  if (errors.value) setErrors((x) => ({ ...x, value: undefined }));
                }}
              />
              <p id="site-secret-value-hint" class="hint">
                Up to 5 KiB. Saving a name that exists replaces its value.
              </p>
              {fieldError('value')}
            </div>
            <div class="form-actions field-wide">
              <button type="submit" class="button button-primary" disabled={saving || items === undefined}>
                {saving ? 'Saving…' : 'Save secret'}
              </button>
            </div>
          </div>
        </form>
      )}

      <LoadError what="the secrets" error={loadError} onRetry={load} class="settings-alert" />
      {items === undefined && !loadError && !forbidden && (
        <p class="settings-text muted" role="status">
          Loading secrets…
        </p>
      )}
      {items?.length === 0 && (
        <div class="empty empty-small">
          <h3>No secrets yet</h3>
          <p class="muted">Add an API key or a password above instead of putting it in your code or pier.toml.</p>
        </div>
      )}
      {items && items.length > 0 && (
        <>
          <p class="card-meta">
            {items.length} of {MAX_SECRETS} secrets
          </p>
          <table class="table secrets-table" aria-label={`Secrets of ${props.site}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.name}>
                  <th scope="row" data-label="Name">
                    <code class="secret-name">{s.name}</code>
                  </th>
                  <td data-label="Updated">
                    <time dateTime={s.updated_at} title={absoluteTime(s.updated_at)}>
                      {relativeTime(s.updated_at)}
                    </time>
                  </td>
                  <td class="kv-actions" data-label="">
                    <button
                      type="button"
                      class="button button-quiet"
                      aria-label={`Replace secret ${s.name}`}
                      onClick={() => {
                        setName(s.name);
                        setValue('');
                        setErrors({});
                        refs.value.current?.focus();
                      }}
                    >
                      Replace
                    </button>
                    <button
                      type="button"
                      class="button button-quiet button-danger-quiet"
                      aria-label={`Delete secret ${s.name}`}
                      onClick={() => {
                        setDialogError('');
                        setTarget(s);
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      <ConfirmDialog
        fallbackFocus="secrets-title"
        open={!!target}
        title={target ? `Delete the secret ${target.name}?` : ''}
        confirmLabel="Delete secret"
        danger
        busy={busy}
        error={dialogError}
        onConfirm={remove}
        onClose={() => setTarget(undefined)}
      >
        {target && (
          <p>
            From the site’s next request, its worker no longer finds <code>{target.name}</code>. The value cannot be
            recovered.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}
