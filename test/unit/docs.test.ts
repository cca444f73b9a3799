/**
 * docs/push-delivery-metrics.md: Airbyte's standard connector-page headings in their order, every
 * stream and error a user can meet, and a changelog row for the current version.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { readRepoFile, repoPath } from '../support/repo';

const DOC = readRepoFile('docs', 'push-delivery-metrics.md');
const NAME = (
  yaml.load(readRepoFile('metadata.yaml'), { schema: yaml.JSON_SCHEMA }) as {
    data: { name: string };
  }
).data.name;
const VERSION = (JSON.parse(readRepoFile('package.json')) as { version: string }).version;

function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((n) => join(dir, n))
    .map((p) =>
      statSync(p).isDirectory() ? sourceText(p) : p.endsWith('.ts') ? readFileSync(p, 'utf8') : '',
    )
    .join('\n');
}
const SRC = sourceText(repoPath('src'));

/** ATX headings outside fenced code, without their #s. */
function headings(md: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of md.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) {
      const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (m) out.push(m[1]);
    }
  }
  return out;
}

/**
 * Airbyte's documentation template (CAT TestConnectorDocumentation.test_docs_structure): these
 * headings in this order; optional ones may be left out, and connector-specific headings may only
 * stand where SPECIFIC is.
 */
const SPECIFIC = '<connector-specific>';
function templateProblems(actual: string[], name: string): string[] {
  const template = [
    name,
    'Prerequisites',
    'Setup guide',
    `Set up ${name}`,
    'For Airbyte Cloud:',
    'For Airbyte Open Source:',
    `Set up the ${name} connector in Airbyte`,
    'For Airbyte Cloud:',
    'For Airbyte Open Source:',
    'Supported sync modes',
    'Supported Streams',
    SPECIFIC,
    'Performance considerations',
    'Data type map',
    'Troubleshooting',
    'Tutorials',
    'Changelog',
  ];
  const optional = new Set([
    `Set up the ${name} connector in Airbyte`,
    'For Airbyte Cloud:',
    'For Airbyte Open Source:',
    SPECIFIC,
    'Performance considerations',
    'Data type map',
    'Troubleshooting',
    'Tutorials',
  ]);
  let a = 0;
  let t = 0;
  while (a < actual.length && t < template.length) {
    if (template[t] === SPECIFIC) {
      if (!template.includes(actual[a])) a++;
      else t++;
    } else if (actual[a] === template[t]) {
      a++;
      t++;
    } else if (optional.has(template[t])) {
      t++;
    } else {
      return [`heading "${actual[a]}" where "${template[t]}" belongs`];
    }
  }
  const missing = template.slice(t).filter((h) => !optional.has(h));
  const extra = actual.slice(a);
  return [
    ...missing.map((h) => `missing heading "${h}"`),
    ...extra.map((h) => `heading "${h}" after the last template heading`),
  ];
}

/**
 * Distinctive parts of every user-facing error and warning in src/: each must still be in the
 * source (so this list follows the code) and be explained on the docs page.
 */
const MESSAGES = [
  // configuration (src/config.ts)
  'Invalid configuration:',
  'is required',
  'must be a real date written YYYY-MM-DD',
  'is too short to be valid',
  'must list at least',
  'at least one provider must be configured',
  'start_date must not be in the future',
  ' needs at least one token: delivery_metrics_token',
  '(or list apps in apns.apps)',
  'apns has both apps (apns.apps) and single-app fields',
  '.bundle_id repeats ',
  'list each app once',
  'is not a valid URL',
  'must use https:// (http:// is allowed only for a loopback host)',
  'The configuration must be a JSON object.',
  // command line and input files (src/airbyte/)
  'Unknown command',
  'No command given',
  'Unexpected argument',
  'needs a file path',
  'file is not valid JSON',
  'does not exist',
  'The state must be a list of per-stream states',
  'this connector reads only per-stream (STREAM) states',
  'must have stream.stream_descriptor.name',
  'has a stream_state that is not an object',
  'The catalog must be a JSON object with a "streams" list',
  'must have stream.name (a string)',
  'expected full_refresh or incremental',
  'Catalog lists stream',
  'is in the catalog but',
  'Add the credentials or remove the stream from the connection',
  'was not found in the source. Refresh the schema',
  'The saved state of stream',
  "Reset the stream's state or correct it",
  'a date written YYYY-MM-DD',
  // Composed per stream: `has "channels" that is not an object`, `… which is not an ISO 8601 time`.
  'an ISO 8601 time',
  '" that is not an object',
  'Unexpected error:',
  'During the sync, these streams did not sync successfully',
  // Apple
  'Apple APNs: ',
  'Apple rejected ',
  'Check that the Data Export Token was made for bundle',
  'Apple does not know broadcast channel',
  'Apple answered HTTP 404 for team',
  'Apple refused the request as badly formed (HTTP 400',
  'Apple answered HTTP',
  'the status check answered HTTP',
  "Apple's answer has no statusUrl",
  'status SUCCESS without a downloadDetails.dataUrl',
  'download parts; this connector reads one file',
  'far more than a 30-day export holds',
  'the saved state was written by version 0.1.0 for one app',
  'row(s) dated outside',
  // OneSignal
  'OneSignal rejected onesignal.apps[',
  "Use the app's App API key from Settings > Keys & IDs",
  'OneSignal does not know onesignal.apps[',
  'OneSignal answered HTTP',
  'the messages answer has no notifications list',
  'a message without id or send_after',
  'export_events gave no csv_file_url',
  'the file URL answered HTTP',
  'is still being delivered; the next sync exports it again',
  'only push messages are exported',
  // Pushwoosh
  'Pushwoosh rejected pushwoosh.api_token',
  'or does not know the application',
  'Use a server API access token from Settings > API Access',
  'pushwoosh needs an application',
  'row(s) of applications that are not configured',
  'the saved state is from 0.1.0',
  'Pushwoosh refused',
  'getMessageLog is for Custom plans only',
  'failed with status_code',
  'answered without a result list',
  'getTrackingLog gave no request_id',
  'gave a row without an action',
  'gave a pagination token it had already given',
  'It is not sent again, since the vendor may have received it',
  'another export of this account is running',
  'waiting for it to end',
  'saved export(s) in flight are not readable',
  'an export in flight of an app no longer configured',
  'The request is not sent again: it may have started the export anyway',
  'whose answer was lost, most likely holds its only slot',
  'OneSignal reports for it',
  'gave an empty page with a pagination token',
  'pages; stopping instead of paging without end',
  'payload(s) were not valid JSON',
  // any vendor (src/http/unknown-answers.ts)
  'gave an answer this connector does not recognise',
  // HTTP, exports and downloads (src/http, src/exports)
  'is rate limited (HTTP 429)',
  'The next sync will continue.',
  'network error',
  'attempt(s) over',
  'with a body that is not JSON',
  'was not ready after',
  '(export_timeout_minutes)',
  'The next sync will try again.',
  'again after it had completed',
  'the download failed',
  'download answered HTTP',
  'download URL answered HTTP',
  'the download broke off after',
  'the download is incomplete',
  'the file is larger than',
  'requesting it again',
  'asking for a fresh download URL',
  'downloading again',
  'no complete answer within',
  'the download slowed to',
  'was cancelled',
  'the TLS certificate of',
  'is unknown to DNS',
  '; it is not retried',
  'is refused: ',
  'redirects in a row',
  'the answer is larger than',
  // decoding (src/decode)
  'the gzip file is truncated',
  'the file is not valid gzip data or is corrupt',
  'the decompressed data is larger than the limit',
  'the zip archive has no entry to read',
  'the file is not a zip archive',
  'is encrypted, which is not supported',
  'uses compression method',
  'the zip file is truncated',
  'the zip file is corrupt',
  'fails its CRC-32 check',
  'a quoted field is followed by',
  'the record grew past',
  'the file ends inside a quoted field',
  'fields but the header has',
  'over the limit of',
  'the header has column',
  'missing required column',
  "its header differs from the first entry's",
  'the file has no header row',
  'entries to read; an export has one or a few',
  'are of the same day and have the same primary key',
  'have no readable date (synced as null) and the same other key fields',
  'data rows have values that',
  "marked in the record's meta.changes",
  'could not be converted and were synced as null',
  'a whole number',
  'a count (a whole number >= 0)',
  'a date (YYYY-MM-DD)',
  'a timestamp',
  'is older than the',
  'that this connector does not know; it is not synced',
  "' needs ",
  'is a directory',
  'cannot be read',
  'must be an object, not',
  ' bytes long, ',
  ': expected ',
  '; retry ',
  '.channel_ids is empty: apns_broadcast_channel does not sync this app',
];

/**
 * Error texts whose literal parts are all placeholders, and the docs text that explains each
 * (e.g. `<what> failed: <reason> after N attempt(s) over S s.`).
 */
const TEMPLATES: [RegExp, string][] = [
  [/\$\{noun\}s failed: /, 'channels failed:'],
  [/^`The \$\{what\} file \$\{JSON\.stringify\(path\)\} \$\{why\}\.`$/, '`does not exist`'],
  [/^`\$\{req\.what\} failed: \$\{reason\} \$\{tried\}\.`$/, '`network error` … `attempt(s) over`'],
  [
    /^`Pushwoosh \$\{what\} failed: \$\{error\} \(HTTP \$\{status\}\)`$/,
    'Pushwoosh getMessageLog failed: <error> (HTTP 400)',
  ],
  [
    /^`Pushwoosh \$\{what\} answered HTTP \$\{status\}: \$\{message\}`$/,
    'Pushwoosh getResults for the <day> tracking log answered HTTP',
  ],
];

/** Errors no user can meet: they guard the code's own calls (fixed arguments). */
const INTERNAL = ['maxBytes must be positive', 'unknown compression'];

describe('docs page', () => {
  it("follows Airbyte's documentation template", () => {
    const h = headings(DOC);
    assert.equal(h[0], NAME);
    assert.deepEqual(templateProblems(h, NAME), []);
    // The checker itself catches a misplaced heading and a missing one.
    assert.equal(templateProblems([NAME, 'Prerequisites', 'Extra', 'Setup guide'], NAME).length, 1);
    assert.ok(templateProblems([NAME, 'Prerequisites'], NAME).length > 0);
  });

  it('lists every stream with its primary key and cursor', () => {
    for (const f of readdirSync(repoPath('resources', 'schemas'))) {
      const stream = f.replace(/\.json$/, '');
      assert.ok(DOC.includes(`| \`${stream}\``), `${stream} is in the streams table`);
    }
    for (const cursor of ['`date`', '`message_sent_at`', '`timestamp`'])
      assert.ok(DOC.includes(cursor));
  });

  it('explains every user-facing error message of src/', () => {
    const notInSrc = MESSAGES.filter((m) => !SRC.includes(m));
    assert.deepEqual(notInSrc, [], 'messages no longer in src/: update this list and the docs');
    const notInDocs = MESSAGES.filter((m) => !DOC.includes(m));
    assert.deepEqual(notInDocs, [], 'messages the docs page does not explain');
  });

  it('covers every error the code raises: no configError/transientError/systemError text is unlisted', () => {
    // Each literal that opens an error constructor's message must contain a listed fragment.
    const calls = [
      ...SRC.matchAll(
        /(?:configError|transientError|systemError|new DecodeError|new ConnectorError)\(\s*(`[^`]*`|'[^']*')/g,
      ),
    ].map((m) => m[1]);
    assert.ok(calls.length > 40, `found ${calls.length} error constructors`);
    const unlisted = calls.filter(
      (c) =>
        !MESSAGES.some((m) => c.includes(m)) &&
        !TEMPLATES.some(([re]) => re.test(c)) &&
        !INTERNAL.some((m) => c.includes(m)) &&
        // A re-thrown error (`${source}: ${err.message}`) keeps the wrapped error's text.
        !/^`\$\{[\w.]+\}: \$\{err\.message\}`$/.test(c),
    );
    assert.deepEqual(unlisted, [], 'add a fragment to MESSAGES and explain it in the docs');
    for (const [, docsText] of TEMPLATES) assert.ok(DOC.includes(docsText), docsText);
  });

  it('covers every warning the code logs', () => {
    // The whole call, since a message may nest template literals.
    const warnings = [...SRC.matchAll(/logger\.warn\(([\s\S]*?)\);[ \t]*\n/g)].map((m) => m[1]);
    assert.ok(warnings.length >= 8, `found ${warnings.length} warnings`);
    assert.deepEqual(
      warnings.filter((w) => !MESSAGES.some((m) => w.includes(m))),
      [],
      'add a fragment to MESSAGES and explain it in the docs',
    );
  });

  it('has a changelog row for the current version', () => {
    const changelog = DOC.slice(DOC.indexOf('## Changelog'));
    assert.match(
      changelog,
      new RegExp(`^\\| ${VERSION.replace(/\./g, '\\.')}\\s+\\| \\d{4}-\\d{2}-\\d{2}`, 'm'),
    );
  });
});
