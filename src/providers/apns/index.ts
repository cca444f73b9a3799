import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { ApnsConfig, Config } from '../../config';
import type { Clock } from '../../util/clock';
import type { Provider } from '../provider';
import { addDays, dayOf } from '../../util/time';
import { type ApnsTokenField, broadcastApp, DATASETS, deliveryMetrics } from './datasets';
import { apnsClient, ApnsExportRepository, requestRange } from './export';
import { apnsStream } from './stream';

/** The APNs streams this config enables; the others go into `unavailable` with the reason. */
export function apnsStreams(
  config: Config,
  unavailable: Map<string, string>,
  clock: Clock,
): Stream[] {
  const apns = config.apns;
  const streams: Stream[] = [];
  for (const def of DATASETS) {
    if (!apns?.[def.tokenField]) {
      unavailable.set(def.stream, `the configuration has no apns.${def.tokenField}`);
    } else if (def.perChannel && !apns.channel_ids?.length) {
      unavailable.set(def.stream, 'the configuration lists no apns.channel_ids');
    } else {
      streams.push(apnsStream(def, config, apns, clock));
    }
  }
  return streams;
}

/**
 * Proves each configured token with the cheapest real call Apple has: an export request for the
 * last two days (a repeat within 24 h returns the same job, so checks do not pile up work).
 */
export async function checkApns(
  apns: ApnsConfig,
  logger: Logger,
  clock: Clock,
): Promise<string | undefined> {
  const yesterday = addDays(dayOf(new Date(clock.now())), -1);
  const range = requestRange(yesterday, yesterday);
  const calls: {
    field: ApnsTokenField;
    dataset: string;
    channelId?: string;
    channelField?: string;
  }[] = [deliveryMetrics, broadcastApp]
    .filter((d) => apns[d.tokenField])
    .map((d) => ({ field: d.tokenField, dataset: d.dataset }));
  if (apns.broadcast_channel_token && !apns.channel_ids?.length) {
    // Apple's channel export needs a channel id, so the token cannot be proved without one.
    logger.warn(
      'apns.broadcast_channel_token is set but apns.channel_ids is empty: apns_broadcast_channel is not synced and the token was not checked.',
    );
  }
  if (apns.broadcast_channel_token) {
    (apns.channel_ids ?? []).forEach((channelId, i) =>
      calls.push({
        field: 'broadcast_channel_token',
        dataset: 'broadcastchannelmetrics',
        channelId,
        channelField: `apns.channel_ids[${i}]`,
      }),
    );
  }
  for (const call of calls) {
    const repo = new ApnsExportRepository(
      apnsClient(apns, apns[call.field] as string, logger, clock),
      {
        apiUrl: apns.api_url,
        teamId: apns.team_id,
        bundleId: apns.bundle_id,
        dataset: call.dataset,
        tokenField: call.field,
        channelId: call.channelId,
        channelField: call.channelField,
        ...range,
      },
    );
    try {
      await repo.start();
    } catch (err) {
      if (err instanceof ConnectorError) return `Apple APNs: ${err.message}`;
      throw err;
    }
  }
  return undefined;
}

export const apnsProvider: Provider = {
  key: 'apns',
  streams: (config, unavailable, env) => apnsStreams(config, unavailable, env.clock),
  check: (config, logger, env) => checkApns(config.apns!, logger, env.clock),
};
