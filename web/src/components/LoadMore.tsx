/**
 * The foot of a paged list: its Load more button, while there is a next
 * page; it says “Loading…” while a page loads unless sayLoading is false.
 */
export function LoadMore(props: { next?: string; loading: boolean; onMore: () => void; label: string; sayLoading?: boolean }) {
  if (!props.next) return null;
  return (
    <div class="card-foot">
      <button type="button" class="button" disabled={props.loading} onClick={() => props.onMore()}>
        {props.loading && props.sayLoading !== false ? 'Loading…' : props.label}
      </button>
    </div>
  );
}
