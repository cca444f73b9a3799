import { asConnectorError, configError } from './errors';
import type { Logger } from './logger';
import type { MessageWriter } from './output';
import type { ConfiguredAirbyteCatalog, JsonObject, StreamDescriptor } from './protocol';
import type { Stream } from './stream';

export interface ReadInputs {
  /** Streams this config can serve. */
  streams: Stream[];
  /** Names the source knows but cannot serve with this config, with the reason. */
  unavailable: Map<string, string>;
  catalog: ConfiguredAirbyteCatalog;
  states: Map<string, unknown>;
}

/**
 * Reads every configured stream in catalog order. A failing stream reports its error and
 * INCOMPLETE; the others still run. Returns false when any stream failed (the caller exits
 * non-zero, which is how the platform learns the attempt failed).
 */
export async function runRead(
  inputs: ReadInputs,
  writer: MessageWriter,
  logger: Logger,
): Promise<boolean> {
  const byName = new Map(inputs.streams.map((s) => [s.name, s]));
  const failed: string[] = [];
  for (const configured of inputs.catalog.streams) {
    const name = configured.stream.name;
    const descriptor: StreamDescriptor = { name };
    if (configured.stream.namespace) descriptor.namespace = configured.stream.namespace;
    await writer.streamStatus(descriptor, 'STARTED');
    try {
      const stream = byName.get(name);
      if (!stream) {
        const why = inputs.unavailable.get(name);
        throw configError(
          why
            ? `The stream '${name}' is in the catalog but ${why}. Add the credentials or remove the stream from the connection.`
            : `The stream '${name}' in your connection configuration was not found in the source. Refresh the schema in your replication settings and remove this stream from future sync attempts.`,
        );
      }
      await readStream(
        stream,
        configured.sync_mode,
        inputs.states.get(name),
        descriptor,
        writer,
        logger,
      );
      await writer.streamStatus(descriptor, 'COMPLETE');
    } catch (err) {
      const e = asConnectorError(err);
      failed.push(name);
      logger.error(`Stream ${name} failed: ${e.message}`);
      await writer.error(e.message, e.failureType, e.internalMessage ?? e.stack, descriptor);
      await writer.streamStatus(descriptor, 'INCOMPLETE');
    }
  }
  if (failed.length)
    logger.error(`During the sync, these streams did not sync successfully: ${failed.join(', ')}.`);
  return failed.length === 0;
}

async function readStream(
  stream: Stream,
  syncMode: 'full_refresh' | 'incremental',
  savedState: unknown,
  descriptor: StreamDescriptor,
  writer: MessageWriter,
  logger: Logger,
): Promise<void> {
  // The saved state counts in both modes. In incremental it is the last sync's cursor. In full
  // refresh it is the platform's retry attempt of a resumable full refresh (every stream is
  // discovered is_resumable): the read continues right after it, with no lookback, so nothing the
  // state covers is sent twice. A new job's first attempt gets no state (the platform clears
  // full-refresh states then) and starts from the beginning.
  const incoming: JsonObject | undefined =
    savedState !== undefined ? stream.parseState(savedState) : undefined;
  if (syncMode === 'full_refresh' && incoming && Object.keys(incoming).length)
    logger.info(
      `${stream.name}: full refresh resumed after the saved state (a retry of an interrupted attempt).`,
    );
  const streamJson = JSON.stringify(stream.name);
  let count = 0;
  let running = false;
  // A checkpoint equal to the previous state is not re-emitted: the protocol forbids sequential
  // duplicate states; its records are counted into the next distinct state, if one comes.
  let previous = incoming ? JSON.stringify(incoming) : undefined;
  let latest: JsonObject = incoming ?? {};
  let emitted = 0;
  const ctx = {
    logger,
    syncMode,
    state: incoming,
    estimate: (rows: number) => void writer.estimate(stream.name, rows),
  };
  // Records up to the latest checkpoint that were not yet covered by an emitted state.
  let countAtLatest = 0;
  try {
    for await (const item of stream.read(ctx)) {
      if (item.kind !== 'checkpoint') {
        if (item.kind === 'records' && item.json.length === 0) continue;
        if (!running) {
          running = true;
          await writer.streamStatus(descriptor, 'RUNNING');
        }
        const now = Date.now();
        if (item.kind === 'record') {
          count++;
          const wait = writer.record(streamJson, item.data, now);
          if (wait) await wait;
          continue;
        }
        for (const json of item.json) {
          count++;
          const wait = writer.recordJson(streamJson, json, now);
          if (wait) await wait;
        }
      } else {
        latest = item.state;
        countAtLatest = count;
        const text = JSON.stringify(item.state);
        if (text === previous) continue;
        await writer.state(descriptor, item.state, count);
        previous = text;
        count = countAtLatest = 0;
        emitted++;
      }
    }
  } catch (err) {
    // Work completed before the failure is still checkpointed when its state was held back as
    // equal to the incoming one (lookback days re-read under an unchanged cursor): the incoming
    // state was never emitted in this sync, so this is no duplicate. After an emitted state,
    // a held-back checkpoint repeats it and is left out; those records are read again next time.
    if (countAtLatest > 0 && emitted === 0) {
      await writer.state(descriptor, latest, countAtLatest);
    }
    throw err;
  }
  // Every stream ends with a state, even one that read nothing. After an emitted state, the last
  // checkpoint always equals it (a different one was emitted at once), so no state follows: the
  // records after it belong to units that do not move the cursor (lookback days, a OneSignal
  // message still being delivered), which no state can cover, and are counted in no state, as
  // the Python CDK does (it drops a checkpoint equal to the last one, and its count with it).
  if (emitted === 0) await writer.state(descriptor, latest, count);
  else if (count > 0)
    logger.debug(
      `${stream.name}: ${count} record(s) after the last state, of units that do not move the cursor.`,
    );
}
