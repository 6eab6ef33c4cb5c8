// What the console shows of a failed request: the one place that turns an
// error into words and hands a 401 (signed out) to the shell.

import { ApiError } from './api';

/** An error's message: an Error's own, anything else as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The message to show for err (in the words words gives), or undefined
 * after handing a 401 (the session ended) to onUnauthorized: the caller
 * shows nothing then.
 */
export function failed(
  err: unknown,
  onUnauthorized: () => void,
  words: (err: unknown) => string = errorMessage,
): string | undefined {
  if (err instanceof ApiError && err.unauthorized) {
    onUnauthorized();
    return undefined;
  }
  return words(err);
}

/** What the sign-in form says when signing in failed. */
export function signInError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'That token is not valid. Check it and try again.';
    if (err.status === 429) {
      // The API says when the address may try again (retry_after, seconds).
      const secs = Number(err.details.retry_after);
      return secs > 0 ? `Too many attempts from this address. Try again in ${secs} s.` : 'Too many attempts. Wait a minute and try again.';
    }
    return err.message;
  }
  return String(err);
}
