import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Session } from '../api';
import { revokeToken } from '../api-settings';
import {
  adminTokens,
  createAdminToken,
  revokeLabel,
  revokeLines,
  revokeRisk,
  type AdminToken,
  type NewAdminToken,
} from '../admintokens';
import { plural, relativeTime } from '../format';
import { tokenNameError } from '../settings';
import { Link } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { TokenNameForm } from '../components/TokenNameForm';
import { TokensTable } from '../components/TokensTable';
import { LoadError } from '../components/LoadError';
import { SecretOnce } from '../components/SecretOnce';

/** Tokens per request: the API's default page size. */
export const ADMIN_TOKENS_PAGE = 100;

/** What a tenant that opens /tokens sees (the API answers it 403). */
function OperatorsOnly() {
  return (
    <section class="page" aria-labelledby="operators-only">
      <div class="card empty">
        <h1 id="operators-only">Operators only</h1>
        <p class="muted">
          Admin tokens are for the platform's operators: sign in with an admin token to manage them. Your own tokens are in
          each site's settings. <Link href="/sites">Go to your sites</Link>.
        </p>
      </div>
    </section>
  );
}

/**
 * The operator's admin tokens (/tokens): the list (name, id, created,
 * oldest first, Load more), Create admin token with the secret shown
 * once, and Revoke behind a confirmation that says when the token is the
 * session's own (revoking it signs the console out) or the last one.
 */
export function AdminTokens(props: { session: Session; onUnauthorized: () => void }) {
  const operator = props.session.kind === 'admin';
  const [items, setItems] = useState<AdminToken[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(operator);
  const [forbidden, setForbidden] = useState(!operator);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');

  const [name, setName] = useState('');
  const [nameError, setNameError] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<NewAdminToken | undefined>();
  const nameRef = useRef<HTMLInputElement>(null);

  const [target, setTarget] = useState<AdminToken | undefined>();
  const [revoking, setRevoking] = useState(false);
  const [revokeError, setRevokeError] = useState('');

  /** The message of err, or undefined when it ended the session (then sign-in shows). */
  function failed(err: unknown): string | undefined {
    if (err instanceof ApiError && err.unauthorized) {
      props.onUnauthorized();
      return undefined;
    }
    if (err instanceof ApiError && err.status === 403) {
      setForbidden(true);
      return undefined;
    }
    return err instanceof Error ? err.message : String(err);
  }

  async function load(cursor?: string) {
    setLoading(true);
    setError('');
    try {
      const page = await adminTokens({ limit: ADMIN_TOKENS_PAGE, cursor });
      setItems((prev) => (cursor ? [...prev, ...page.items] : page.items));
      setNext(page.next_cursor);
    } catch (err) {
      const m = failed(err);
      if (m) setError(m);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (operator) load();
  }, [operator]);

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
      const t = await createAdminToken(name.trim());
      setCreated(t);
      setName('');
      // The list is oldest first: the new token belongs at its end, once that end is loaded.
      if (!next) {
        const { token: _secret, ...listed } = t;
        setItems((prev) => [...prev, listed]);
      }
      setNotice(`Created the admin token “${t.name}”. Copy its secret now: it is shown only once.`);
    } catch (err) {
      const m = failed(err);
      if (m) setNameError(m);
    } finally {
      setCreating(false);
    }
  }

  const risk = target ? revokeRisk(target.id, props.session.token_id, items, !next) : undefined;

  async function revoke() {
    if (!target || !risk) return;
    setRevoking(true);
    setRevokeError('');
    try {
      await revokeToken(target.id);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        // A 401 here: the session died meanwhile; sign-in shows.
        const m = failed(err);
        if (m) setRevokeError(m);
        setRevoking(false);
        return;
      }
      // Revoked meanwhile (another tab, the CLI): it is gone either way.
    }
    if (risk.current) {
      // The session went with its token: any further request answers 401.
      props.onUnauthorized();
      return;
    }
    setItems((prev) => prev.filter((t) => t.id !== target.id));
    if (created?.id === target.id) setCreated(undefined);
    setNotice(`Revoked the admin token “${target.name}”. It stopped working at once.`);
    setTarget(undefined);
    setRevoking(false);
  }

  if (forbidden) return <OperatorsOnly />;

  return (
    <section class="page" aria-labelledby="tokens-title">
      <div class="page-head">
        <div>
          <h1 id="tokens-title">Admin tokens</h1>
          <p class="muted">
            Platform-wide tokens for operators, the CLI's <code>--admin</code> tokens. Tenants' and sites' tokens are on their own
            pages.
          </p>
        </div>
      </div>
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>

      <div class="settings">
        <section class="card settings-section" aria-labelledby="create-token-title">
          <div class="settings-head">
            <h2 id="create-token-title">Create an admin token</h2>
            <p class="muted">
              An admin token controls the whole platform: every tenant, site, domain and token. Give each operator and each
              automation its own, so one can be revoked without the others.
            </p>
          </div>
          {created ? (
            <div class="admin-secret">
              <p class="alert alert-error admin-token-warning">
                <strong>Keep it like a root password.</strong> Anyone with this token can create, change and delete every tenant
                and site on the platform, and create more admin tokens.
              </p>
              <SecretOnce
                label={`Admin token “${created.name}”`}
                secret={created.token}
                onDone={() => {
                  setCreated(undefined);
                  setNotice('');
                }}
              />
            </div>
          ) : (
            <TokenNameForm
              id="admin-token-name"
              label="Create admin token"
              placeholder="e.g. Alice's laptop"
              submitLabel="Create admin token"
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
          )}
        </section>

        <section class="card settings-section" aria-labelledby="token-list-title">
          <div class="card-head">
            <h2 id="token-list-title">Tokens</h2>
            <span class="card-meta-inline muted">
              {loading && items.length === 0 ? 'Loading tokens…' : `${plural(items.length, 'token')}${next ? ' loaded' : ''}`}
            </span>
          </div>
          <LoadError what="the admin tokens" error={error} onRetry={load} class="settings-alert" />
          {!loading && !error && items.length === 0 && (
            <div class="empty empty-small">
              <h3>No admin tokens</h3>
              <p class="muted">Create one above. Restarting pier serve also writes a new bootstrap token to its data directory.</p>
            </div>
          )}
          {items.length > 0 && (
            <TokensTable tokens={items} label="Admin tokens" sessionTokenId={props.session.token_id} onRevoke={(t) => {
              setRevokeError('');
              setTarget(t);
            }} />
          )}
          {next && (
            <div class="card-foot">
              <button type="button" class="button" disabled={loading} onClick={() => load(next)}>
                {loading ? 'Loading…' : 'Load more tokens'}
              </button>
            </div>
          )}
        </section>
      </div>

      <ConfirmDialog
        open={!!target}
        title={target ? `Revoke the admin token “${target.name}”?` : ''}
        confirmLabel={risk ? revokeLabel(risk) : 'Revoke token'}
        danger
        busy={revoking}
        error={revokeError}
        onConfirm={revoke}
        onClose={() => setTarget(undefined)}
      >
        {target && risk && (
          <>
            {revokeLines(target.name, risk).map((l, i) => (
              <p key={i} class={i === 0 && (risk.current || risk.last) ? 'alert alert-warn' : undefined}>
                {l}
              </p>
            ))}
            <p class="muted">
              Token <code>{target.id}</code>, created {relativeTime(target.created_at)}.
            </p>
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}
