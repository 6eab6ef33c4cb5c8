import { useState } from 'preact/hooks';

/**
 * A secret the API shows once (a new token): a read-only field with a Copy
 * button and a warning. The caller drops the secret when the user is done,
 * so it is never shown twice.
 */
export function SecretOnce(props: { label: string; secret: string; onDone: () => void; doneLabel?: string }) {
  const [copied, setCopied] = useState('');
  return (
    <div class="secret-once">
      <p class="alert alert-warn">
        <strong>Copy this token now.</strong> It is shown only once: Pier keeps only its hash and cannot show it again.
      </p>
      <label for="secret-value">
        {props.label}
      </label>
      <div class="secret-row">
        <input id="secret-value" class="mono" type="text" readOnly value={props.secret} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button
          type="button"
          class="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(props.secret);
              setCopied('Copied to the clipboard.');
            } catch {
              setCopied('Copying failed: your browser did not allow it. Select the token and copy it instead.');
            }
          }}
        >
          Copy token
        </button>
      </div>
      <p class="muted small" role="status" aria-live="polite">
        {copied}
      </p>
      <button type="button" class="button button-primary" onClick={props.onDone}>
        {props.doneLabel ?? 'Done, I have copied it'}
      </button>
    </div>
  );
}
