import type { Ref } from 'preact';
import { MAX_TOKEN_NAME } from '../settings';

/**
 * The form that names a new token: a `Token name` field (its error below it,
 * announced) and a submit button. The page owns the state and the request.
 */
export function TokenNameForm(props: {
  id: string;
  label?: string;
  placeholder: string;
  submitLabel: string;
  name: string;
  error: string;
  creating: boolean;
  inputRef: Ref<HTMLInputElement>;
  onName: (name: string) => void;
  onSubmit: (e: Event) => void;
}) {
  const errorId = props.id + '-error';
  return (
    <form class="token-form" onSubmit={props.onSubmit} noValidate aria-label={props.label}>
      <div class="token-form-field">
        <label for={props.id}>Token name</label>
        <input
          id={props.id}
          ref={props.inputRef}
          type="text"
          placeholder={props.placeholder}
          maxLength={MAX_TOKEN_NAME}
          value={props.name}
          autocomplete="off"
          aria-invalid={props.error ? true : undefined}
          aria-describedby={props.error ? errorId : undefined}
          onInput={(e) => props.onName((e.target as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" class="button button-primary" disabled={props.creating}>
        {props.creating ? 'Creating…' : props.submitLabel}
      </button>
      {props.error && (
        <p id={errorId} class="alert alert-error token-form-error" role="alert">
          {props.error}
        </p>
      )}
    </form>
  );
}
