import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmDialog } from './ConfirmDialog';
import { typedMatches } from '../settings';

/**
 * A confirmation for what cannot be undone (deleting a site or a tenant):
 * the user types the object's name, and the confirm button stays
 * disabled until it matches exactly.
 */
export function TypedConfirmDialog(props: {
  open: boolean;
  title: string;
  /** What the user must type: the site's or tenant's name. */
  name: string;
  /** What is being deleted, for the field's label: "site", "tenant". */
  kind: string;
  confirmLabel: string;
  busy?: boolean;
  error?: string;
  /** See ConfirmDialog. */
  fallbackFocus?: string;
  onConfirm: () => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const [typed, setTyped] = useState('');
  useEffect(() => {
    if (props.open) setTyped('');
  }, [props.open]);
  const ok = typedMatches(typed, props.name);
  return (
    <ConfirmDialog
      open={props.open}
      title={props.title}
      confirmLabel={props.confirmLabel}
      busy={props.busy}
      danger
      confirmDisabled={!ok}
      error={props.error}
      fallbackFocus={props.fallbackFocus}
      onConfirm={() => ok && props.onConfirm()}
      onClose={props.onClose}
    >
      {props.children}
      <div class="typed-confirm">
        <label for="typed-confirm-input">
          Type the {props.kind} name <code>{props.name}</code> to confirm
        </label>
        <input
          id="typed-confirm-input"
          type="text"
          autocomplete="off"
          autocapitalize="off"
          spellcheck={false}
          value={typed}
          autofocus
          aria-describedby="typed-confirm-hint"
          onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
        />
        <p id="typed-confirm-hint" class="field-hint" aria-live="polite">
          {ok ? 'Name confirmed.' : `The button is enabled once you have typed ${props.name} exactly.`}
        </p>
      </div>
    </ConfirmDialog>
  );
}
