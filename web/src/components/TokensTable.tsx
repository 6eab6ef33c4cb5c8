import { absoluteTime, relativeTime } from '../format';

/** What a row of a tokens table shows: never a secret. */
export interface TokenRow {
  id: string;
  name: string;
  created_at: string;
}

/**
 * A table of tokens (name, id, created) with a Revoke button per row,
 * named `Revoke token <name>`. The token of the current session, if any
 * (sessionTokenId), is marked `this session`.
 */
export function TokensTable<T extends TokenRow>(props: { tokens: T[]; label?: string; sessionTokenId?: string; onRevoke: (t: T) => void }) {
  return (
    <table class="table tokens-table" aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">ID</th>
          <th scope="col">Created</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.tokens.map((t) => (
          <tr key={t.id}>
            <th scope="row" data-label="Name">
              <span class="token-name">{t.name}</span>
              {t.id === props.sessionTokenId && (
                <>
                  {' '}
                  <span class="badge badge-admin">this session</span>
                </>
              )}
            </th>
            <td data-label="ID">
              <code>{t.id}</code>
            </td>
            <td data-label="Created">
              <time dateTime={t.created_at} title={absoluteTime(t.created_at)}>
                {relativeTime(t.created_at)}
              </time>
            </td>
            <td class="token-actions" data-label="">
              <button
                type="button"
                class="button button-quiet button-danger-quiet"
                aria-label={`Revoke token ${t.name}`}
                onClick={() => props.onRevoke(t)}
              >
                Revoke
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
