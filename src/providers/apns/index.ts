import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { Clock } from '../../util/clock';
import type { ConfigWith, Provider } from '../provider';
import { type ApnsConfig, parseApnsConfig } from './config';
import { addDays, dayOf } from '../../util/time';
import { type ApnsDataset, DATASETS } from './datasets';
import { appExport, requestRange } from './export';
import { apnsStream, appsOf } from './stream';

/** The APNs streams this config enables; the others go into `unavailable` with the reason. */
export function apnsStreams(
  config: ConfigWith<'apns', ApnsConfig>,
  unavailable: Map<string, string>,
  clock: Clock,
): Stream[] {
  const apns = config.apns;
  const streams: Stream[] = [];
  // How a field of the apps is named: `apns.channel_ids`, or `apns.apps[].channel_ids`.
  const field = apns?.apps[0]?.path.startsWith('apns.apps') ? 'apns.apps[].' : 'apns.';
  for (const def of DATASETS) {
    if (apns && appsOf(def, apns).length) {
      streams.push(apnsStream(def, config, apns, clock));
    } else if (!apns?.apps.some((a) => a[def.tokenField])) {
      unavailable.set(def.stream, `the configuration has no ${field}${def.tokenField}`);
    } else {
      unavailable.set(def.stream, `the configuration lists no ${field}channel_ids`);
    }
  }
  return streams;
}

/**
 * Proves each app's tokens with the cheapest real call Apple has: an export request for the last
 * two days (a repeat within 24 h returns the same job, so checks do not pile up work). Every app
 * is checked; the answer names each field that failed.
 */
export async function checkApns(
  apns: ApnsConfig,
  logger: Logger,
  clock: Clock,
): Promise<string | undefined> {
  const yesterday = addDays(dayOf(new Date(clock.now())), -1);
  const range = requestRange(yesterday, yesterday);
  const problems = new Set<string>();
  for (const app of apns.apps) {
    if (app.broadcast_channel_token && !app.channel_ids?.length) {
      // Apple's channel export needs a channel id, so the token cannot be proved without one.
      logger.warn(
        `${app.path}.broadcast_channel_token is set but ${app.path}.channel_ids is empty: apns_broadcast_channel does not sync this app and the token was not checked.`,
      );
    }
    const calls: { def: ApnsDataset; channel?: { id: string; index: number } }[] = DATASETS.filter(
      (def) => app[def.tokenField],
    ).flatMap((def) =>
      def.perChannel
        ? (app.channel_ids ?? []).map((id, index) => ({ def, channel: { id, index } }))
        : [{ def }],
    );
    for (const { def, channel } of calls) {
      try {
        await appExport(apns, app, def, { range, channel, logger, clock }).start();
      } catch (err) {
        if (!(err instanceof ConnectorError)) throw err;
        problems.add(err.message);
      }
    }
  }
  return problems.size ? `Apple APNs: ${[...problems].join(' | ')}` : undefined;
}

export const apnsProvider: Provider<'apns', ApnsConfig> = {
  key: 'apns',
  parseConfig: (block, ctx) => parseApnsConfig(block, ctx),
  streams: (config, unavailable, env) => apnsStreams(config, unavailable, env.clock),
  check: (config, logger, env) => checkApns(config.apns!, logger, env.clock),
};
