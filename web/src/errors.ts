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
