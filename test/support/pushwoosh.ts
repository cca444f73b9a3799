import {
  DEFAULT_PUSHWOOSH_ACCOUNT,
  DEFAULT_PUSHWOOSH_EVENTS_PER_DAY,
} from '../../emulator/fixtures';
import { pushwooshMessageLogRows, pushwooshTrackingRows } from '../../emulator/pushwoosh';

/** The records pushwoosh_tracking should emit for applications of the default emulator account. */
const APP = DEFAULT_PUSHWOOSH_ACCOUNT.applicationCode;
const N = DEFAULT_PUSHWOOSH_EVENTS_PER_DAY;
const NULL_MESSAGE_LOG = {
  message_id: null,
  message_code: null,
  campaign_code: null,
  user_id: null,
  platform: null,
};

/** Day by day, the rows of `apps` in file order (one file holds every application). */
export const trackingExpected = (days: string[], apps: string[] = [APP]) =>
  days.flatMap((day) =>
    pushwooshTrackingRows(apps, day, N).map((r) => ({
      application_code: r.expected.app_code,
      ...r.expected,
      payload_raw: null,
      ...NULL_MESSAGE_LOG,
    })),
  );

/** Application by application (one query each), then day by day. */
export const messageLogExpected = (days: string[], apps: string[] = [APP]) =>
  apps.flatMap((app) =>
    days.flatMap((day) =>
      pushwooshMessageLogRows(app, day, N).map(({ expected: e }) => ({
        application_code: app,
        timestamp: e.timestamp,
        tracking_code: null,
        target_id: null,
        hwid: e.hwid,
        status: e.action,
        description: null,
        app_code: app,
        payload: null,
        payload_raw: null,
        message_id: e.message_id,
        message_code: e.message_code,
        campaign_code: e.campaign_code,
        user_id: e.user_id,
        platform: e.platform,
      })),
    ),
  );

/** A saved state of pushwoosh_tracking in today's layout: a cursor per application. */
export const pushwooshState = (cursors: Record<string, string>) => [
  {
    type: 'STREAM',
    stream: {
      stream_descriptor: { name: 'pushwoosh_tracking' },
      stream_state: {
        applications: Object.fromEntries(Object.entries(cursors).map(([a, date]) => [a, { date }])),
      },
    },
  },
];
