import {
  DEFAULT_PUSHWOOSH_ACCOUNT,
  DEFAULT_PUSHWOOSH_EVENTS_PER_DAY,
} from '../../emulator/fixtures';
import { pushwooshMessageLogRows, pushwooshTrackingRows } from '../../emulator/pushwoosh';

/** The records pushwoosh_tracking should emit for the default emulator account. */
const APP = DEFAULT_PUSHWOOSH_ACCOUNT.applicationCode;
const N = DEFAULT_PUSHWOOSH_EVENTS_PER_DAY;
const NULL_MESSAGE_LOG = {
  message_id: null,
  message_code: null,
  campaign_code: null,
  user_id: null,
  platform: null,
};

export const trackingExpected = (days: string[]) =>
  days.flatMap((day) =>
    pushwooshTrackingRows(APP, day, N).map((r) => ({
      application_code: APP,
      ...r.expected,
      payload_raw: null,
      ...NULL_MESSAGE_LOG,
    })),
  );

export const messageLogExpected = (days: string[]) =>
  days.flatMap((day) =>
    pushwooshMessageLogRows(APP, day, N).map(({ expected: e }) => ({
      application_code: APP,
      timestamp: e.timestamp,
      tracking_code: null,
      target_id: null,
      hwid: e.hwid,
      status: e.action,
      description: null,
      app_code: e.application_code,
      payload: null,
      payload_raw: null,
      message_id: e.message_id,
      message_code: e.message_code,
      campaign_code: e.campaign_code,
      user_id: e.user_id,
      platform: e.platform,
    })),
  );
