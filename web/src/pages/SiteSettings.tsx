import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Session } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import { createSiteToken, deleteSite, revokeToken, siteTokens, type NewSiteToken, type SiteToken } from '../api-settings';
import { setProductionBranch } from '../api-git';
import { branchNameError, MAX_BRANCH_NAME } from '../git';
import { deployCommand, tokenNameError } from '../settings';
import { flash } from '../flash';
import { navigate } from '../router';
import { SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { TokenNameForm } from '../components/TokenNameForm';
import { TokensTable } from '../components/TokensTable';
import { SiteSecrets } from '../components/SiteSecrets';
import { TypedConfirmDialog } from '../components/TypedConfirmDialog';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';

/** Tokens per request. */
export const TOKENS_PAGE = 50;

/** A site's settings: its production branch, its secrets, its deploy tokens (create, shown once; revoke) and deleting the site. */
export function SiteSettings(props: { site: string; session: Session; onUnauthorized: () => void }) {
  // A site token may not manage tokens or delete its site (403).
  const siteSession = props.session.site !== undefined;
  const [missing, setMissing] = useState(false);
  const [notice, setNotice] = useState('');

  // A site session lists no tokens, so it asks for the site itself:
  // any other site is not found.
  useEffect(() => {
    setMissing(false);
    if (!siteSession) return;
    api.site(props.site).catch((err) => {
      if (err instanceof ApiError && err.status === 404) setMissing(true);
      else failed(err, props.onUnauthorized);
    });
  }, [props.site, siteSession]);

  if (missing) return <SiteNotFound site={props.site} />;
  return (
    <SiteFrame site={props.site} tab="settings">
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <div class="settings">
        <ProductionBranch
          site={props.site}
          onUnauthorized={props.onUnauthorized}
          onMissing={() => setMissing(true)}
          onNotice={setNotice}
        />
        <SiteSecrets site={props.site} onUnauthorized={props.onUnauthorized} onNotice={setNotice} />
        {siteSession ? (
          <section class="card settings-section" aria-labelledby="tokens-title">
            <div class="settings-head">
              <h2 id="tokens-title">Deploy tokens</h2>
            </div>
            <p class="settings-text muted">
              You are signed in with a deploy token of <strong>{props.session.site?.name}</strong>. Deploy tokens can deploy
              and roll back their site, but creating or revoking tokens and deleting the site need a tenant token.
            </p>
          </section>
        ) : (
          <Tokens site={props.site} onUnauthorized={props.onUnauthorized} onMissing={() => setMissing(true)} onNotice={setNotice} />
        )}
        <DangerZone site={props.site} allowed={!siteSession} onUnauthorized={props.onUnauthorized} />
      </div>
    </SiteFrame>
  );
}

/** The git branch whose pushes go live: shown, edited, checked, saved with PATCH /sites/{site}. */
function ProductionBranch(props: {
  site: string;
  onUnauthorized: () => void;
  onMissing: () => void;
  onNotice: (m: string) => void;
}) {
  const [saved, setSaved] = useState<string | undefined>();
  const [branch, setBranch] = useState('');
  const [error, setError] = useState('');
  const [loadError, setLoadError] = useState('');
  const [saving, setSaving] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  async function load() {
    setLoadError('');
    try {
      const s = await api.site(props.site);
      const b = s.production_branch || 'main';
      setSaved(b);
      setBranch(b);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return props.onMissing();
      const m = failed(err, props.onUnauthorized);
      if (m) setLoadError(m);
    }
  }

  useEffect(() => {
    setSaved(undefined);
    setError('');
    load();
  }, [props.site]);

  async function save(e: Event) {
    e.preventDefault();
    const name = branch.trim();
    const problem = branchNameError(name);
    setError(problem);
    if (problem) {
      inputRef.current?.focus();
      return;
    }
    if (name === saved) return;
    setSaving(true);
    try {
      const s = await setProductionBranch(props.site, name);
      const b = s.production_branch || name;
      setSaved(b);
      setBranch(b);
      props.onNotice(`Saved: pushes to ${b} go live from now on. Other branches deploy as previews.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return props.onMissing();
      const m = failed(err, props.onUnauthorized);
      if (m) setError(m);
      inputRef.current?.focus();
    } finally {
      setSaving(false);
    }
  }

  const errorId = 'production-branch-error';
  return (
    <section class="card settings-section" aria-labelledby="branch-title">
      <div class="settings-head">
        <h2 id="branch-title">Production branch</h2>
        <p class="muted">
          A <code>git push</code> to this branch publishes <strong>{props.site}</strong> and makes it live. Pushes to any
          other branch deploy without going live, each at its own branch address.
        </p>
      </div>
      <LoadError what="the site" error={loadError} onRetry={load} class="settings-alert" />
      <form class="token-form branch-form" onSubmit={save} noValidate>
        <div class="token-form-field">
          <label for="production-branch">Production branch</label>
          <input
            id="production-branch"
            ref={inputRef}
            type="text"
            class="mono"
            placeholder="main"
            maxLength={MAX_BRANCH_NAME}
            value={branch}
            disabled={saved === undefined}
            autocomplete="off"
            spellcheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
            onInput={(e) => {
              setBranch((e.target as HTMLInputElement).value);
              if (error) setError('');
            }}
          />
        </div>
        <button type="submit" class="button button-primary" disabled={saving || saved === undefined || branch.trim() === saved}>
          {saving ? 'Saving…' : 'Save branch'}
        </button>
        {error && (
          <p id={errorId} class="alert alert-error token-form-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}

/** The site's deploy tokens: the list, the create form, the secret shown once, revoking. */
function Tokens(props: {
  site: string;
  onUnauthorized: () => void;
  onMissing: () => void;
  onNotice: (m: string) => void;
}) {
  const list = usePagedList((cursor) => siteTokens(props.site, { limit: TOKENS_PAGE, cursor }), [props.site], {
    onUnauthorized: props.onUnauthorized,
    missingOn404: true,
    onMissing: props.onMissing,
  });
  const { items, setItems, next, loading, error } = list;
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<NewSiteToken | undefined>();
  const [target, setTarget] = useState<SiteToken | undefined>();
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState('');
  const nameRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setCreated(undefined);
  }, [props.site]);

  async function create(e: Event) {
    e.preventDefault();
    const problem = tokenNameError(name);
    setNameError(problem);
    if (problem) {
      nameRef.current?.focus();
      return;
    }
    setCreating(true);
    try {
      const t = await createSiteToken(props.site, name.trim());
      setCreated(t);
      setName('');
      // The list is oldest first: the new token belongs at its end, once that end is loaded.
      if (!next) setItems((prev) => [...prev, stripSecret(t)]);
      props.onNotice(`Created the deploy token “${t.name}”. Copy its secret now: it is shown only once.`);
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) setNameError(m);
    } finally {
      setCreating(false);
    }
  }

  async function revoke() {
    if (!target) return;
    setBusy(true);
    setDialogError('');
    try {
      await revokeToken(target.id);
      setItems((prev) => prev.filter((t) => t.id !== target.id));
      if (created?.id === target.id) setCreated(undefined);
      props.onNotice(`Revoked the deploy token “${target.name}”. It stopped working at once.`);
      setTarget(undefined);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // Revoked meanwhile (another tab, the CLI): it is gone either way.
        setItems((prev) => prev.filter((t) => t.id !== target.id));
        setTarget(undefined);
      } else {
        const m = failed(err, props.onUnauthorized);
        if (m) setDialogError(m);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card settings-section" aria-labelledby="tokens-title">
      <div class="settings-head">
        <h2 id="tokens-title">Deploy tokens</h2>
        <p class="muted">
          A deploy token acts on <strong>{props.site}</strong> only: it can deploy, roll back, manage domains and read logs
          of this site, and nothing of your other sites. Give one to each CI job.
        </p>
      </div>

      <TokenNameForm
        id="token-name"
        placeholder="e.g. GitHub Actions"
        submitLabel="Create token"
        name={name}
        error={nameError}
        creating={creating}
        inputRef={nameRef}
        onName={(v) => {
          setName(v);
          if (nameError) setNameError('');
        }}
        onSubmit={create}
      />

      {created && <NewSecret token={created} site={props.site} onDone={() => setCreated(undefined)} onNotice={props.onNotice} />}

      <LoadError what="the tokens" error={error} onRetry={list.reload} class="settings-alert" />
      {loading && items.length === 0 && <p class="settings-text muted">Loading tokens…</p>}
      {!loading && !error && items.length === 0 && (
        <div class="empty empty-small">
          <h3>No deploy tokens yet</h3>
          <p class="muted">Create one above to deploy this site from CI without your tenant's token.</p>
        </div>
      )}
      {items.length > 0 && (
        <TokensTable tokens={items} onRevoke={(t) => {
          setDialogError('');
          setTarget(t);
        }} />
      )}
      <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more tokens" />

      <ConfirmDialog
        open={!!target}
        title={target ? `Revoke the token “${target.name}”?` : ''}
        confirmLabel="Revoke token"
        danger
        busy={busy}
        error={dialogError}
        onConfirm={revoke}
        onClose={() => setTarget(undefined)}
      >
        {target && (
          <p>
            Anything that uses <code>{target.id}</code> to deploy <strong>{props.site}</strong> gets “unauthorized” from
            now on, and consoles signed in with it are signed out. This cannot be undone.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

function stripSecret(t: NewSiteToken): SiteToken {
  const { token: _secret, ...rest } = t;
  return rest;
}

/** A new token's secret, shown this once, with a copy button and the CLI line that uses it. */
function NewSecret(props: { token: NewSiteToken; site: string; onDone: () => void; onNotice: (m: string) => void }) {
  const command = deployCommand(props.token.token, props.site, location.origin);
  async function copy(text: string, what: string) {
    try {
      await navigator.clipboard.writeText(text);
      props.onNotice(`Copied the ${what}.`);
    } catch {
      props.onNotice(`Copying failed: your browser did not allow it. Select the ${what} and copy it instead.`);
    }
  }
  return (
    <div class="secret-box" role="region" aria-labelledby="secret-title">
      <h3 id="secret-title">New token “{props.token.name}”</h3>
      <p class="secret-warning">
        <strong>Copy this token now.</strong> It will not be shown again: Pier keeps only a hash of it.
      </p>
      <div class="secret-row">
        <code class="secret-value" id="new-token-secret">
          {props.token.token}
        </code>
        <button type="button" class="button" onClick={() => copy(props.token.token, 'token')}>
          Copy token
        </button>
      </div>
      <p class="secret-label">Deploy this site with it:</p>
      <div class="secret-row">
        <code class="secret-value secret-command" id="new-token-command">
          {command}
        </code>
        <button type="button" class="button" onClick={() => copy(command, 'deploy command')}>
          Copy command
        </button>
      </div>
      <p class="muted secret-note">
        In CI, store the token as a secret variable named <code>PIER_TOKEN</code> and run{' '}
        <code>pier deploy ./dist --site {props.site} --api {location.origin}</code>.
      </p>
      <div class="secret-actions">
        <button type="button" class="button button-quiet" onClick={props.onDone}>
          I have copied it
        </button>
      </div>
    </div>
  );
}

/** Deleting the site, behind a typed confirmation. */
function DangerZone(props: { site: string; allowed: boolean; onUnauthorized: () => void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  async function remove() {
    setBusy(true);
    setError('');
    try {
      await deleteSite(props.site);
      setOpen(false);
      flash(`Deleted the site ${props.site}. Its address stopped serving.`);
      navigate('/sites');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setOpen(false);
        flash(`The site ${props.site} was already deleted.`);
        navigate('/sites');
        return;
      }
      const m = failed(err, props.onUnauthorized);
      if (m) setError(m);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card settings-section danger-zone" aria-labelledby="danger-title">
      <div class="settings-head">
        <h2 id="danger-title">Danger zone</h2>
      </div>
      <div class="danger-row">
        <div>
          <h3>Delete this site</h3>
          <p class="muted">
            Deletes <strong>{props.site}</strong> with all its deployments, custom domains and deploy tokens. Its address
            stops serving at once. This cannot be undone.
          </p>
        </div>
        {props.allowed ? (
          <button
            type="button"
            class="button button-danger"
            onClick={() => {
              setError('');
              setOpen(true);
            }}
          >
            Delete site
          </button>
        ) : (
          <p class="muted danger-note">Deleting the site needs a tenant token.</p>
        )}
      </div>
      <TypedConfirmDialog
        open={open}
        title={`Delete the site ${props.site}?`}
        name={props.site}
        kind="site"
        confirmLabel="Delete this site"
        busy={busy}
        error={error}
        onConfirm={remove}
        onClose={() => setOpen(false)}
      >
        <p>
          <strong>{props.site}</strong>, its deployments, custom domains and deploy tokens will be deleted, and its address
          will stop serving at once. This cannot be undone.
        </p>
      </TypedConfirmDialog>
    </section>
  );
}
