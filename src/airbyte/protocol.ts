/** The subset of the Airbyte protocol (v0) that a source emits or reads. */

export type SyncMode = 'full_refresh' | 'incremental';
export type StreamStatus = 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';
export type JsonObject = { [key: string]: unknown };

export interface StreamDescriptor {
  name: string;
  namespace?: string;
}

export interface AirbyteStream {
  name: string;
  json_schema: JsonObject;
  supported_sync_modes: SyncMode[];
  source_defined_cursor?: boolean;
  default_cursor_field?: string[];
  source_defined_primary_key?: string[][];
  is_resumable?: boolean;
}

export interface ConfiguredAirbyteStream {
  stream: { name: string; namespace?: string } & Partial<AirbyteStream>;
  sync_mode: SyncMode;
  destination_sync_mode?: string;
  cursor_field?: string[];
  primary_key?: string[][];
}

export interface ConfiguredAirbyteCatalog {
  streams: ConfiguredAirbyteStream[];
}
