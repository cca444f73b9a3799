import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { addDays, daysBetween, dayOf, isValidDay } from '../../src/util/time';
import {
  pickVariant,
  type EmulatorContext,
  type RouteMatch,
  type RouteModule,
} from '../core/routing';
import { FOREIGN_TEXT } from '../core/types';
import type {
  ApnsTeamFixture,
  EmuRequest,
  EmuResponse,
  MalformedCsvVariant,
  Origin,
} from '../core/types';

export const APNS_DATASETS = [
  'deliverymetrics',
  'broadcastapplicationmetric',
  'broadcastchannelmetrics',
] as const;
export type ApnsDataset = (typeof APNS_DATASETS)[number];

export const APNS_PUSH_TYPES = ['alert', 'background', 'voip', 'liveactivity'] as const;
export const APNS_DELIVERY_STATUSES = ['delivered', 'stored', 'discarded'] as const;
export const APNS_TOKEN_HEADER = 'x-apple-cloudkit-management-token';

export const APNS_DELIVERY_HEADER = ['Push Type', 'Status', 'Date (UTC)', 'Count'];
export const APNS_BROADCAST_APP_HEADER = [
  'Date (UTC)',
  'Broadcasts Published',
  'Broadcasts Delivered',
  'Total Subscriptions',
  'Unique Subscribers',
];
export const APNS_BROADCAST_CHANNEL_HEADER = [
  'Date (UTC)',
  'Broadcasts Published',
  'Broadcasts Delivered',
  'Total Subscriptions',
];

export type ApnsJobStatus = 'PROCESSING' | 'FAILED' | 'EXPIRED' | 'SUCCESS';

// ---------------------------------------------------------------------------------------------
// Deterministic data: every value is a pure function of its inputs, so tests can recompute it.

function hash(...parts: string[]): number {
  return createHash('sha256').update(parts.join('\u001f')).digest().readUInt32BE(0);
}

export interface ApnsDeliveryRow {
  pushType: string;
  status: string;
  count: number;
}

/** The rows of one day, in canonical (push type, status) order; about 1 in 5 combos is absent. */
export function apnsDeliveryRows(teamId: string, bundleId: string, day: string): ApnsDeliveryRow[] {
  const rows: ApnsDeliveryRow[] = [];
  for (const pushType of APNS_PUSH_TYPES) {
    for (const status of APNS_DELIVERY_STATUSES) {
      if (hash('dm-absent', teamId, bundleId, day, pushType, status) % 5 === 0) continue;
      rows.push({
        pushType,
        status,
        count: hash('dm-count', teamId, bundleId, day, pushType, status) % 100001,
      });
    }
  }
  return rows;
}

/**
 * `n` delivery rows spread evenly over the export's days, each (day, push type, status) once:
 * push types `generated-0`, `generated-1`, … with every status, as many as `n` needs.
 */
export function apnsGeneratedRows(
  spec: Pick<ApnsExportSpec, 'teamId' | 'bundleId' | 'startDate' | 'endDate'>,
  n: number,
): (ApnsDeliveryRow & { day: string })[] {
  const days = daysBetween(spec.startDate, spec.endDate);
  const statuses = APNS_DELIVERY_STATUSES;
  return Array.from({ length: n }, (_, i) => {
    const day = days[i % days.length];
    const combo = Math.floor(i / days.length);
    const pushType = `generated-${Math.floor(combo / statuses.length)}`;
    const status = statuses[combo % statuses.length];
    const count = hash('dm-generated', spec.teamId, spec.bundleId, day, pushType, status) % 100001;
    return { day, pushType, status, count };
  });
}

export interface ApnsBroadcastAppRow {
  published: number;
  delivered: number;
  totalSubscriptions: number;
  uniqueSubscribers: number;
}

export interface ApnsBroadcastChannelRow {
  published: number;
  delivered: number;
  totalSubscriptions: number;
}

/** Counts of one day; -1 marks a count withheld under Apple's privacy threshold. */
export function apnsBroadcastAppRow(
  teamId: string,
  bundleId: string,
  day: string,
): ApnsBroadcastAppRow {
  const h = (k: string) => hash('ba', k, teamId, bundleId, day);
  const published = h('published') % 50;
  const totalSubscriptions = h('total') % 100000;
  const row: ApnsBroadcastAppRow = {
    published,
    delivered: published * (h('delivered') % 20000),
    totalSubscriptions,
    uniqueSubscribers: h('unique') % (totalSubscriptions + 1),
  };
  const privacy = h('privacy');
  if (privacy % 4 === 0) {
    if (privacy & 0x10) row.delivered = -1;
    if (privacy & 0x20) row.totalSubscriptions = -1;
    if (privacy & 0x40 || !(privacy & 0x30)) row.uniqueSubscribers = -1;
  }
  return row;
}

export function apnsBroadcastChannelRow(
  teamId: string,
  bundleId: string,
  channelId: string,
  day: string,
): ApnsBroadcastChannelRow {
  const h = (k: string) => hash('bc', k, teamId, bundleId, channelId, day);
  const published = h('published') % 20;
  const row: ApnsBroadcastChannelRow = {
    published,
    delivered: published * (h('delivered') % 5000),
    totalSubscriptions: h('total') % 20000,
  };
  const privacy = h('privacy');
  if (privacy % 4 === 0) {
    if (privacy & 0x10) row.delivered = -1;
    if (privacy & 0x20 || !(privacy & 0x10)) row.totalSubscriptions = -1;
  }
  return row;
}

/**
 * The `Date (UTC)` cell of a broadcast row: usually `2026-11-03`, on about 1 day in 3
 * `2026-11-03T00:00:00Z` (Apple's docs show both). `channelId` is null for the app dataset.
 */
export function apnsBroadcastDateCell(
  teamId: string,
  bundleId: string,
  channelId: string | null,
  day: string,
): string {
  return hash('date-form', teamId, bundleId, channelId ?? '', day) % 3 === 0
    ? `${day}T00:00:00Z`
    : day;
}

export interface ApnsExportSpec {
  teamId: string;
  bundleId: string;
  dataset: ApnsDataset;
  /** Canonical channel id (as configured) for the channel dataset, else null/absent. */
  channelId?: string | null;
  startDate: string;
  endDate: string;
  /** Delivery metrics only: exactly this many generated rows instead of the usual data. */
  generatedRows?: number;
}

interface Table {
  header: string[];
  rows: { day: string; cells: string[] }[];
}

const REGIONS = ['us-east', 'eu-west', 'ap-south'];

function buildTable(spec: ApnsExportSpec): Table {
  const { teamId, bundleId, dataset } = spec;
  const channelId = spec.channelId ?? null;
  const days = daysBetween(spec.startDate, spec.endDate);
  const rows: Table['rows'] = [];
  let header: string[];
  if (dataset === 'deliverymetrics' && spec.generatedRows !== undefined) {
    header = [...APNS_DELIVERY_HEADER];
    for (const r of apnsGeneratedRows(spec, spec.generatedRows)) {
      rows.push({ day: r.day, cells: [r.pushType, r.status, r.day, String(r.count)] });
    }
  } else if (dataset === 'deliverymetrics') {
    header = [...APNS_DELIVERY_HEADER];
    for (const day of days) {
      for (const r of apnsDeliveryRows(teamId, bundleId, day)) {
        rows.push({ day, cells: [r.pushType, r.status, day, String(r.count)] });
      }
    }
  } else if (dataset === 'broadcastapplicationmetric') {
    header = [...APNS_BROADCAST_APP_HEADER];
    for (const day of days) {
      const r = apnsBroadcastAppRow(teamId, bundleId, day);
      const date = apnsBroadcastDateCell(teamId, bundleId, null, day);
      const counts = [r.published, r.delivered, r.totalSubscriptions, r.uniqueSubscribers];
      rows.push({ day, cells: [date, ...counts.map(String)] });
    }
  } else {
    if (!channelId) throw new Error('broadcastchannelmetrics needs a channelId');
    header = [...APNS_BROADCAST_CHANNEL_HEADER];
    for (const day of days) {
      const r = apnsBroadcastChannelRow(teamId, bundleId, channelId, day);
      const date = apnsBroadcastDateCell(teamId, bundleId, channelId, day);
      const counts = [r.published, r.delivered, r.totalSubscriptions];
      rows.push({ day, cells: [date, ...counts.map(String)] });
    }
  }
  // Shuffle deterministically: the connector, not the file, must provide the order.
  const key = (r: Table['rows'][number]) =>
    hash('order', teamId, bundleId, dataset, channelId ?? '', r.day, r.cells[0], r.cells[1]);
  const keyed = rows.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => a.k - b.k);
  const shuffled = keyed.map((x) => x.r);
  const sorted = shuffled.every((r, i) => i === 0 || shuffled[i - 1].day <= r.day);
  if (sorted && days.length > 1 && shuffled.length > 1) shuffled.push(shuffled.shift()!);
  return { header, rows: shuffled };
}

function applyDefect(
  t: Table,
  dataset: ApnsDataset,
  variant: MalformedCsvVariant,
  seed: string,
): void {
  const mid = t.rows[Math.floor(t.rows.length / 2)];
  const col = (name: string) => t.header.indexOf(name);
  const dateCol = col('Date (UTC)');
  switch (variant) {
    case 'bad_count':
      mid.cells[col(dataset === 'deliverymetrics' ? 'Count' : 'Broadcasts Published')] = '12x';
      break;
    case 'bad_date':
      mid.cells[dateCol] = '2026-13-45';
      break;
    case 'unterminated_quote':
      mid.cells[0] = `"${mid.cells[0]}`;
      break;
    case 'extra_column':
      t.header.push('Region');
      for (const r of t.rows)
        r.cells.push(REGIONS[hash('region', seed, ...r.cells) % REGIONS.length]);
      break;
    case 'mostly_bad': {
      const c = col(dataset === 'deliverymetrics' ? 'Count' : 'Broadcasts Published');
      t.rows.forEach((r, i) => {
        if (i % 4 !== 0) r.cells[c] = '12x';
      });
      break;
    }
    case 'environment_column': {
      // Apple adds a column and splits each count by it: rows then differ only there.
      const c = col('Count');
      t.header.push('Environment');
      t.rows = t.rows.flatMap((r) => {
        const n = Number(r.cells[c]);
        const production = { day: r.day, cells: [...r.cells, 'Production'] };
        production.cells[c] = String(Math.ceil(n / 2));
        const development = { day: r.day, cells: [...r.cells, 'Development'] };
        development.cells[c] = String(Math.floor(n / 2));
        return [production, development];
      });
      break;
    }
    case 'missing_column': {
      const c = col(dataset === 'deliverymetrics' ? 'Count' : 'Total Subscriptions');
      t.header.splice(c, 1);
      for (const r of t.rows) r.cells.splice(c, 1);
      break;
    }
  }
}

/**
 * The exported file: header row first, CRLF line ends, a UTF-8 BOM for delivery metrics, rows in
 * a deterministic non-date order. `defect` plants one malformed_csv defect.
 */
export function apnsCsv(spec: ApnsExportSpec, defect?: MalformedCsvVariant): string {
  if (defect === 'empty_body') return '';
  if (defect === 'foreign_text') return FOREIGN_TEXT;
  const t = buildTable(spec);
  if (defect && t.rows.length > 0) applyDefect(t, spec.dataset, defect, spec.teamId);
  const lines = [t.header, ...t.rows.map((r) => r.cells)].map((cells) => cells.join(','));
  const bom = spec.dataset === 'deliverymetrics' ? '\uFEFF' : '';
  return bom + lines.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------
// HTTP routes.

interface Job {
  id: string;
  key: string;
  teamId: string;
  bundleId: string;
  dataset: ApnsDataset;
  channelId: string | null;
  startDate: string;
  endDate: string;
  expiresInMinutes: number;
  requestedAt: Date;
  polls: number;
  state: ApnsJobStatus;
  /** Issued download signatures and their `expires` (epoch s). */
  signatures: Map<string, number>;
}

const PREFIX = '^/v1/dataExports/apns/teams/([^/]+)/appId/([^/]+)/datasetName/([^/]+)';
const REQUEST_RE = new RegExp(`${PREFIX}/request$`);
const STATUS_RE = new RegExp(`${PREFIX}/requests/([^/]+)/status$`);
const DOWNLOAD_RE = /^\/apns\/([^/]+)\/data\.csv$/;
const DAY_MS = 86_400_000;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isDataset(s: string): s is ApnsDataset {
  return (APNS_DATASETS as readonly string[]).includes(s);
}

function decodeAll(groups: string[]): string[] | undefined {
  try {
    return groups.map((g) => decodeURIComponent(g));
  } catch {
    return undefined;
  }
}

function reason(status: number, text: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason: text }),
  };
}

function s3Error(code: string, message: string, status = 403): EmuResponse {
  const id = randomBytes(8).toString('hex').toUpperCase();
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${id}</RequestId></Error>`,
  };
}

/** `2024-11-11 18:01:00Z`, the form of the request endpoint. */
function spacedTimestamp(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Apple's request body may end with `,}`; JSON.parse does not accept that. */
function parseLenientJson(text: string): unknown {
  return JSON.parse(text.replace(/,\s*}\s*$/, '}'));
}

// Variants of the answers Apple's docs leave open (spelling, case, shape): tests select one per
// emulator, to check that the connector reads each. The first of each table is the default.

interface DownloadDetails {
  dataUrl: string;
  expiresAt: string;
}

const same = <T>(x: T) => x;

/** How the status check writes a job's status and its downloadDetails. */
interface StatusShape {
  status?: (s: ApnsJobStatus) => string;
  details?: (d: DownloadDetails) => unknown;
}
const STATUS_SHAPES = {
  upper: {},
  lower: { status: (s) => s.toLowerCase() },
  capitalized: { status: (s) => s[0] + s.slice(1).toLowerCase() },
  succeeded: { status: (s) => (s === 'SUCCESS' ? 'Succeeded' : s) },
  queued: { status: (s) => (s === 'PROCESSING' ? 'QUEUED' : s) },
  dataURL: { details: (d) => ({ dataURL: d.dataUrl, expiresAt: d.expiresAt }) },
  dataurl: { details: (d) => ({ dataurl: d.dataUrl, expiresAt: d.expiresAt }) },
  onePartList: { details: (d) => [d] },
  // Not seen in Apple's docs: lets tests check that a split export is refused, not half-read.
  twoPartList: { details: (d) => [d, d] },
} satisfies Record<string, StatusShape>;
export type ApnsStatusVariant = keyof typeof STATUS_SHAPES;
export const APNS_STATUS_VARIANTS = Object.keys(STATUS_SHAPES) as ApnsStatusVariant[];

/** How the request endpoint answers: HTTP status and the status URL's key. */
const REQUEST_SHAPES = {
  statusUrl: { http: 200, key: 'statusUrl' },
  statusURL: { http: 200, key: 'statusURL' },
  accepted202: { http: 202, key: 'statusUrl' },
};
export type ApnsRequestVariant = keyof typeof REQUEST_SHAPES;
export const APNS_REQUEST_VARIANTS = Object.keys(REQUEST_SHAPES) as ApnsRequestVariant[];

export interface ApnsOptions {
  statusVariant?: ApnsStatusVariant;
  requestVariant?: ApnsRequestVariant;
  /** Every delivery-metrics export holds exactly this many generated rows (memory tests). */
  deliveryRows?: number;
}

export class ApnsModule implements RouteModule {
  private readonly jobs = new Map<string, Job>();
  private readonly latestByKey = new Map<string, string>();
  private readonly secret = randomBytes(32);
  private signCounter = 0;
  private readonly statusShape: StatusShape;
  private readonly requestShape: { http: number; key: string };

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly teams: ApnsTeamFixture[],
    private readonly processingPolls: number,
    private readonly options: ApnsOptions = {},
  ) {
    this.statusShape = pickVariant('apns.statusVariant', STATUS_SHAPES, options.statusVariant);
    this.requestShape = pickVariant('apns.requestVariant', REQUEST_SHAPES, options.requestVariant);
  }

  match(origin: Origin, method: string, path: string): RouteMatch | undefined {
    let m: RegExpExecArray | null;
    if (origin === 'api' && method === 'POST' && (m = REQUEST_RE.exec(path))) {
      const g = decodeAll(m.slice(1));
      if (g) return { route: 'apns.request', handle: (req) => this.request(req, g[0], g[1], g[2]) };
    }
    if (origin === 'api' && method === 'GET' && (m = STATUS_RE.exec(path))) {
      const g = decodeAll(m.slice(1));
      if (g)
        return { route: 'apns.status', handle: (req) => this.status(req, g[0], g[1], g[2], g[3]) };
    }
    if (origin === 'files' && method === 'GET' && (m = DOWNLOAD_RE.exec(path))) {
      const g = decodeAll(m.slice(1));
      if (g) return { route: 'apns.download', handle: (req) => this.download(req, g[0]) };
    }
    return undefined;
  }

  errorResponse(route: string, status: number, message: string): EmuResponse {
    if (route === 'apns.download') {
      const code =
        status === 429 ? 'TooManyRequests' : status === 503 ? 'SlowDown' : 'InternalError';
      return s3Error(code, message, status);
    }
    return reason(status, message);
  }

  reset(): void {
    this.jobs.clear();
    this.latestByKey.clear();
  }

  private tokenValid(req: EmuRequest, teamId: string, bundleId: string, dataset: string): boolean {
    if (!isDataset(dataset)) return false;
    const team = this.teams.find((t) => t.teamId === teamId && t.bundleId === bundleId);
    const expected = team?.tokens[dataset];
    return !!expected && req.headers[APNS_TOKEN_HEADER] === expected;
  }

  private request(req: EmuRequest, teamId: string, bundleId: string, dataset: string): EmuResponse {
    if (!isDataset(dataset)) return reason(404, `unknown datasetName '${dataset}'`);
    if (!this.tokenValid(req, teamId, bundleId, dataset)) {
      return reason(401, 'invalid or missing management token');
    }
    let body: unknown;
    try {
      body = parseLenientJson(req.body);
    } catch {
      return reason(400, 'request body is not valid JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return reason(400, 'request body must be a JSON object');
    }
    const b = body as Record<string, unknown>;
    for (const f of ['startDate', 'endDate'] as const) {
      if (b[f] === undefined) return reason(400, `${f} is required`);
      if (typeof b[f] !== 'string' || !isValidDay(b[f])) {
        return reason(400, `${f} ${JSON.stringify(b[f])} is not a valid yyyy-MM-dd date`);
      }
    }
    const startDate = b.startDate as string;
    const endDate = b.endDate as string;
    const minutes = b.dataDownloadUrlExpiresInMinutes;
    if (minutes === undefined) return reason(400, 'dataDownloadUrlExpiresInMinutes is required');
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 20 || minutes > 60) {
      return reason(
        400,
        `dataDownloadUrlExpiresInMinutes ${JSON.stringify(minutes)} must be an integer from 20 to 60`,
      );
    }
    const today = dayOf(this.ctx.now());
    if (startDate < addDays(today, -30)) {
      return reason(400, `startDate ${startDate} is more than 30 days in the past`);
    }
    if (endDate > addDays(today, -1)) {
      return reason(400, `endDate ${endDate} is not at least one day in the past`);
    }
    if (endDate <= startDate) {
      return reason(400, `endDate ${endDate} must be later than startDate ${startDate}`);
    }
    let channelId: string | null = null;
    if (dataset === 'broadcastchannelmetrics') {
      const c = b.channelId;
      if (c === undefined) return reason(400, 'channelId is required for broadcastchannelmetrics');
      if (typeof c !== 'string' || !c || !BASE64_RE.test(c)) {
        return reason(400, `channelId ${JSON.stringify(c)} is not a base64 string`);
      }
      const bytes = Buffer.from(c, 'base64');
      const team = this.teams.find((t) => t.teamId === teamId && t.bundleId === bundleId)!;
      const known = team.channelIds.find((id) => Buffer.from(id, 'base64').equals(bytes));
      if (!known) return reason(404, 'channel identifier not found');
      channelId = known;
    } else if ('channelId' in b) {
      return reason(400, `channelId is not allowed for ${dataset}`);
    }

    const now = this.ctx.now();
    const key = [teamId, bundleId, dataset, channelId ?? '', startDate, endDate].join('|');
    const prev = this.jobs.get(this.latestByKey.get(key) ?? '');
    const reusable =
      prev &&
      prev.state !== 'FAILED' &&
      prev.state !== 'EXPIRED' &&
      now.getTime() - prev.requestedAt.getTime() < DAY_MS;
    let job: Job;
    if (reusable) {
      job = prev;
    } else {
      job = {
        id: randomUUID(),
        key,
        teamId,
        bundleId,
        dataset,
        channelId,
        startDate,
        endDate,
        expiresInMinutes: minutes,
        requestedAt: now,
        polls: 0,
        state: 'PROCESSING',
        signatures: new Map(),
      };
      this.jobs.set(job.id, job);
      this.latestByKey.set(key, job.id);
    }
    return {
      status: this.requestShape.http,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        [this.requestShape.key]: this.statusUrl(job),
        requestedAt: spacedTimestamp(job.requestedAt),
      }),
    };
  }

  private statusUrl(job: Job): string {
    const enc = encodeURIComponent;
    return (
      `${this.ctx.apiUrl}/v1/dataExports/apns/teams/${enc(job.teamId)}/appId/${enc(job.bundleId)}` +
      `/datasetName/${job.dataset}/requests/${job.id}/status`
    );
  }

  private status(
    req: EmuRequest,
    teamId: string,
    bundleId: string,
    dataset: string,
    id: string,
  ): EmuResponse {
    if (!this.tokenValid(req, teamId, bundleId, dataset)) {
      return reason(404, 'The data export token is invalid');
    }
    const job = this.jobs.get(id);
    if (!job || job.teamId !== teamId || job.bundleId !== bundleId || job.dataset !== dataset) {
      return reason(404, 'data export request not found');
    }
    if (job.state === 'PROCESSING' || job.state === 'SUCCESS') {
      const f = this.ctx.faults.take(['export_failed', 'export_expired']);
      if (f) job.state = f.kind === 'export_failed' ? 'FAILED' : 'EXPIRED';
    }
    if (job.state === 'PROCESSING') {
      job.polls += 1;
      if (job.polls > this.processingPolls) job.state = 'SUCCESS';
    }
    const shape = this.statusShape;
    const out: Record<string, unknown> = {
      requestedAt: job.requestedAt.toISOString(),
      status: (shape.status ?? same)(job.state),
    };
    if (job.state === 'SUCCESS')
      out.downloadDetails = (shape.details ?? same)(this.signDownload(job));
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(out),
    };
  }

  /** A fresh signed URL on the files origin, valid for the job's expiry minutes from now. */
  private signDownload(job: Job): DownloadDetails {
    const expiresAtMs = this.ctx.now().getTime() + job.expiresInMinutes * 60_000;
    const expires = Math.ceil(expiresAtMs / 1000);
    this.signCounter += 1;
    const signature = createHmac('sha256', this.secret)
      .update(`${job.id}\n${expires}\n${this.signCounter}`)
      .digest('hex');
    job.signatures.set(signature, expires);
    // Apple shows microseconds (`.762922Z`); connectors must parse that.
    const micros = String(parseInt(signature.slice(0, 6), 16) % 1000).padStart(3, '0');
    const expiresAt = `${new Date(expiresAtMs).toISOString().slice(0, 23)}${micros}Z`;
    const dataUrl = `${this.ctx.filesUrl}/apns/${job.id}/data.csv?expires=${expires}&signature=${signature}`;
    return { dataUrl, expiresAt };
  }

  private download(req: EmuRequest, id: string): EmuResponse {
    const job = this.jobs.get(id);
    const signature = req.query.signature ?? '';
    const expires = Number(req.query.expires);
    if (!job || !signature || job.signatures.get(signature) !== expires) {
      return s3Error(
        'AccessDenied',
        'The request signature we calculated does not match the signature you provided',
      );
    }
    if (this.ctx.now().getTime() >= expires * 1000 || job.state !== 'SUCCESS') {
      return s3Error('AccessDenied', 'Request has expired');
    }
    if (this.ctx.faults.take(['download_url_expired'])) {
      return s3Error('AccessDenied', 'Request has expired');
    }
    const defect = this.ctx.faults.take(['malformed_csv']);
    const csv = apnsCsv({ ...job, generatedRows: this.options.deliveryRows }, defect?.variant);
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${job.dataset}_${job.startDate}_${job.endDate}.csv"`,
      },
      body: csv,
      compressible: true,
    };
  }
}
