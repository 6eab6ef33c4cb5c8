// A message for the next page: a view that navigates away after an
// action (deleting a site) leaves it here and the shell shows it once on
// the page it lands on.

let pending: string | undefined;

/** Leaves message for the page navigated to next. */
export function flash(message: string): void {
  pending = message;
}

/** The pending message, once: a second call returns undefined. */
export function takeFlash(): string | undefined {
  const m = pending;
  pending = undefined;
  return m;
}
