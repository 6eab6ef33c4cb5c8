/** A failed load, with a Retry button: “Loading {what} failed: {error}”; nothing while error is ''. */
export function LoadError(props: { what: string; error: string; onRetry: () => void; class?: string }) {
  if (!props.error) return null;
  return (
    <div class={props.class ? 'alert alert-error ' + props.class : 'alert alert-error'} role="alert">
      <span>
        Loading {props.what} failed: {props.error}
      </span>{' '}
      <button type="button" class="button button-quiet" onClick={() => props.onRetry()}>
        Retry
      </button>
    </div>
  );
}
