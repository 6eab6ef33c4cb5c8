import { useState } from 'preact/hooks';
import { api, type Session } from '../api';
import { signInError } from '../errors';

/** Sign in with an admin or tenant token: POST /api/v1/session, then GET it. */
export function SignIn(props: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter a token.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      await api.signIn(t);
      props.onSignedIn(await api.session());
    } catch (err) {
      setError(signInError(err));
      setBusy(false);
    }
  }

  return (
    <main class="signin" id="main">
      <div class="signin-card">
        <div class="brand brand-large">
          <span class="logo" aria-hidden="true" />
          Pier
        </div>
        <h1>Sign in to the console</h1>
        <p class="muted">
          Use an admin token (the operator's is in <code>data/admin.token</code>) or a tenant token.
        </p>
        {props.notice && !error && (
          <p class="alert alert-info" role="status">
            {props.notice}
          </p>
        )}
        <form onSubmit={submit} noValidate>
          <label for="token">Token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="current-password"
            spellcheck={false}
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'signin-error' : undefined}
            required
          />
          {error && (
            <p id="signin-error" class="alert alert-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="button button-primary button-block" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
