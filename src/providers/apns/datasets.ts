import type { JsonObject } from '../../airbyte/protocol';
import { parseCount, parseDay } from '../../decode';
import type { ApnsDataset } from './dataset-stream';

const DATE = { field: 'date', header: 'Date (UTC)', required: true };
const BROADCAST_COLUMNS = [
  DATE,
  { field: 'broadcasts_published', header: 'Broadcasts Published', required: true },
  { field: 'broadcasts_delivered', header: 'Broadcasts Delivered', required: true },
  { field: 'total_subscriptions', header: 'Total Subscriptions', required: true },
];
/** Apple writes -1 for a count held back by its privacy threshold: that is null, not a count. */
const broadcastCount = (raw: string, column: string) =>
  parseCount(raw, column, { minusOneIsNull: true });

/** The broadcast datasets share their columns; only the application report has unique subscribers. */
function broadcastRecord(row: Record<string, string>, base: JsonObject, unique: boolean) {
  const day = parseDay(row.date, 'Date (UTC)');
  const record: JsonObject = {
    ...base,
    date: day,
    broadcasts_published: broadcastCount(row.broadcasts_published, 'Broadcasts Published'),
    broadcasts_delivered: broadcastCount(row.broadcasts_delivered, 'Broadcasts Delivered'),
    total_subscriptions: broadcastCount(row.total_subscriptions, 'Total Subscriptions'),
  };
  if (unique)
    record.unique_subscribers = broadcastCount(row.unique_subscribers, 'Unique Subscribers');
  return { day, record };
}

/** Delivery Metrics: counts per push type and status per day. */
export const deliveryMetrics: ApnsDataset = {
  stream: 'apns_delivery_metrics',
  dataset: 'deliverymetrics',
  tokenField: 'delivery_metrics_token',
  perChannel: false,
  primaryKey: [['bundle_id'], ['date'], ['push_type'], ['status']],
  columns: [
    { field: 'push_type', header: 'Push Type', required: true },
    { field: 'status', header: 'Status', required: true },
    DATE,
    { field: 'count', header: 'Count', required: true },
  ],
  toRecord(row, base) {
    const day = parseDay(row.date, 'Date (UTC)');
    return {
      day,
      record: {
        ...base,
        date: day,
        push_type: row.push_type,
        status: row.status,
        count: parseCount(row.count, 'Count'),
      },
    };
  },
  orderKey: (r) => `${r.push_type}\u0000${r.status}`,
};

/** Broadcast Push Notification Application Metrics: one row per day for the whole app. */
export const broadcastApp: ApnsDataset = {
  stream: 'apns_broadcast_app',
  dataset: 'broadcastapplicationmetric',
  tokenField: 'broadcast_app_token',
  perChannel: false,
  primaryKey: [['bundle_id'], ['date']],
  columns: [
    ...BROADCAST_COLUMNS,
    { field: 'unique_subscribers', header: 'Unique Subscribers', required: true },
  ],
  toRecord: (row, base) => broadcastRecord(row, base, true),
  orderKey: () => '',
};

/** Broadcast Push Notification Channel Metrics: one export per channel, one row per day. */
export const broadcastChannel: ApnsDataset = {
  stream: 'apns_broadcast_channel',
  dataset: 'broadcastchannelmetrics',
  tokenField: 'broadcast_channel_token',
  perChannel: true,
  primaryKey: [['bundle_id'], ['channel_id'], ['date']],
  columns: BROADCAST_COLUMNS,
  toRecord: (row, base) => broadcastRecord(row, base, false),
  orderKey: () => '',
};
