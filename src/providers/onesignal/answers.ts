import { snippet } from '../../http/client';
import type { ErrorRule } from '../../http/error-table';

/** What OneSignal's answers mean: the API's refusals and errors, and its file URL's statuses. */

/**
 * OneSignal's answer when the account's one export slot is taken: the documented wording ("Only
 * one concurrent export is allowed per account"), and the plausible others, in any 4xx status.
 */
export const ONE_EXPORT =
  /concurrent export|export (is )?(already )?(in progress|running)|another export/i;

/** The texts of an error answer: its `errors` list, or the body itself. */
export function errorsOf(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors)) return errors.map(String).join('; ');
  return snippet(body, 200);
}

/** OneSignal's answers that are not a success, for every call of an app. */
export function errorTable(i: number): ErrorRule[] {
  return [
    {
      status: [401, 403],
      failure: 'config_error',
      message: (a) =>
        `OneSignal rejected onesignal.apps[${i}].api_key for onesignal.apps[${i}].app_id (HTTP ${a.status}: ${a.reason}). Use the app's App API key from Settings > Keys & IDs.`,
    },
    {
      status: 400,
      when: (a) => /app_id/i.test(a.reason),
      failure: 'config_error',
      message: (a) =>
        `OneSignal does not know onesignal.apps[${i}].app_id (HTTP 400: ${a.reason}).`,
    },
  ];
}

/**
 * The file URL's answers other than 200, and what they mean: `missing` is "not ready" until the
 * file was served once (or a saved job outlived its grace), then gone; `gone` always is. Any other
 * status is an error.
 */
export const FILE_ANSWERS = new Map<number, 'missing' | 'gone'>([
  [404, 'missing'], // S3's NoSuchKey
  [403, 'missing'], // S3's AccessDenied, where the bucket cannot be listed
  [410, 'gone'],
]);
