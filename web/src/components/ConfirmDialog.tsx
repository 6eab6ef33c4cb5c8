import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal confirmation on the native <dialog>: showModal() makes the rest
 * of the page inert, Tab wraps inside it, Escape closes it, and focus
 * returns to the control that opened it.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  busy?: boolean;
  /** Keeps the confirm button disabled (a typed confirmation not typed yet). */
  confirmDisabled?: boolean;
  /** Styles the confirm button as destructive. */
  danger?: boolean;
  error?: string;
  /** The id of what gets focus when the control that opened the dialog is gone (it went with what was deleted). */
  fallbackFocus?: string;
  onConfirm: () => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
    } else if (!props.open && d.open) {
      d.close();
    }
  }, [props.open]);

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onKeyDown={(e) => {
        // showModal() makes the page inert, but Tab would still leave for
        // the browser's own controls: wrap it between the first and last.
        if (e.key !== 'Tab') return;
        const d = ref.current;
        if (!d) return;
        const focusable = [...d.querySelectorAll<HTMLElement>('button:not([disabled]), a[href], input:not([disabled])')];
        if (focusable.length === 0) return;
        const first = focusable[0];
        const last = focusable[focusable.length - 1];
        if (e.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && (document.activeElement === last || !d.contains(document.activeElement))) {
          e.preventDefault();
          first.focus();
        }
      }}
      onCancel={(e) => {
        e.preventDefault();
        if (!props.busy) props.onClose();
      }}
      onClose={() => {
        const o = opener.current as HTMLElement | null;
        if (o && o.isConnected) o.focus();
        else if (props.fallbackFocus) document.getElementById(props.fallbackFocus)?.focus();
      }}
    >
      {props.open && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (!props.busy && !props.confirmDisabled) props.onConfirm();
          }}
        >
          <h2 id="confirm-title">{props.title}</h2>
          <div id="confirm-body" class="dialog-body">
            {props.children}
          </div>
          {props.error && (
            <p class="alert alert-error" role="alert">
              {props.error}
            </p>
          )}
          <div class="dialog-actions">
            <button type="button" class="button" onClick={props.onClose} disabled={props.busy}>
              Cancel
            </button>
            <button
              type="submit"
              class={'button ' + (props.danger ? 'button-danger' : 'button-primary')}
              disabled={props.busy || props.confirmDisabled}
              autofocus
            >
              {props.busy ? 'Working…' : props.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

