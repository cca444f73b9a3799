import type { FaultRegistry } from './faults';
import type { EmuRequest, EmuResponse, Origin } from './types';

export interface RouteMatch {
  route: string;
  handle(req: EmuRequest): EmuResponse | Promise<EmuResponse>;
}

/** One vendor's routes. */
export interface RouteModule {
  match(origin: Origin, method: string, path: string): RouteMatch | undefined;
  /** An error shaped like the vendor's own, used for injected faults and handler crashes. */
  errorResponse(route: string, status: number, message: string): EmuResponse;
  reset(): void;
  /** Releases resources (temp files) when the emulator closes. */
  close?(): Promise<void>;
}

/** What route modules get from the emulator. */
export interface EmulatorContext {
  now(): Date;
  readonly faults: FaultRegistry;
  /** The origin of the status URLs handed out: the API listener's, unless `handOut` changed it. */
  readonly apiUrl: string;
  /** The origin of the file links handed out: the files listener's, unless `handOut` changed it. */
  readonly filesUrl: string;
}

/** The entry of `table` that an emulator option names; its first entry when the option is unset. */
export function pickVariant<T>(option: string, table: Record<string, T>, value?: string): T {
  const key = value ?? Object.keys(table)[0];
  if (!Object.hasOwn(table, key)) {
    throw new Error(`${option} must be one of ${Object.keys(table).join(', ')}`);
  }
  return table[key];
}
