import { as, field, RecordMapping } from '../../decode/records';

export type ApnsTokenField =
  'delivery_metrics_token' | 'broadcast_app_token' | 'broadcast_channel_token';

/** What one APNs dataset says that differs from the others. */
export interface ApnsDataset {
  stream: string;
  dataset: string;
  tokenField: ApnsTokenField;
  /** The channel dataset is exported once per channel, with state per channel. */
  perChannel: boolean;
  primaryKey: string[][];
  /** Its CSV columns and record fields (after team_id, bundle_id and, per channel, channel_id). */
  mapping: RecordMapping;
  /** The fields that order a day's rows (Apple does not sort its file), beside the date. */
  orderBy: string[];
}

const DATE = field('date', 'Date (UTC)', as.day, { required: true });
/** Apple writes -1 for a count held back by its privacy threshold: that is null, not a count. */
const BROADCAST = [
  DATE,
  field('broadcasts_published', 'Broadcasts Published', as.countOrMinusOne, { required: true }),
  field('broadcasts_delivered', 'Broadcasts Delivered', as.countOrMinusOne, { required: true }),
  field('total_subscriptions', 'Total Subscriptions', as.countOrMinusOne, { required: true }),
];

/** Delivery Metrics: counts per push type and status per day. */
export const deliveryMetrics: ApnsDataset = {
  stream: 'apns_delivery_metrics',
  dataset: 'deliverymetrics',
  tokenField: 'delivery_metrics_token',
  perChannel: false,
  primaryKey: [['bundle_id'], ['date'], ['push_type'], ['status']],
  mapping: new RecordMapping([
    DATE,
    field('push_type', 'Push Type', as.text, { required: true }),
    field('status', 'Status', as.text, { required: true }),
    field('count', 'Count', as.count, { required: true }),
  ]),
  orderBy: ['push_type', 'status'],
};

/** Broadcast Push Notification Application Metrics: one row per day for the whole app. */
const broadcastApp: ApnsDataset = {
  stream: 'apns_broadcast_app',
  dataset: 'broadcastapplicationmetric',
  tokenField: 'broadcast_app_token',
  perChannel: false,
  primaryKey: [['bundle_id'], ['date']],
  mapping: new RecordMapping([
    ...BROADCAST,
    field('unique_subscribers', 'Unique Subscribers', as.countOrMinusOne, { required: true }),
  ]),
  orderBy: [],
};

/** Broadcast Push Notification Channel Metrics: one export per channel, one row per day. */
export const broadcastChannel: ApnsDataset = {
  stream: 'apns_broadcast_channel',
  dataset: 'broadcastchannelmetrics',
  tokenField: 'broadcast_channel_token',
  perChannel: true,
  primaryKey: [['bundle_id'], ['channel_id'], ['date']],
  mapping: new RecordMapping(BROADCAST),
  orderBy: [],
};

export const DATASETS = [deliveryMetrics, broadcastApp, broadcastChannel];
