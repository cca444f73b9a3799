import type { EmuResponse, Origin, RouteMatch, RouteModule } from './server';

function errors(status: number, message: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errors: [message] }),
  };
}

/** Pushwoosh routes (`/json/1.3/{method}`); a placeholder until the emulation is written. */
export class PushwooshModule implements RouteModule {
  match(origin: Origin, _method: string, path: string): RouteMatch | undefined {
    const m = /^\/json\/1\.3(?:\/([^/]*))?/.exec(path);
    if (origin !== 'api' || !m) return undefined;
    return {
      route: m[1] ? `pushwoosh.${m[1]}` : 'pushwoosh.json',
      handle: () => errors(501, 'not implemented in emulator yet'),
    };
  }

  errorResponse(_route: string, status: number, message: string): EmuResponse {
    return errors(status, message);
  }

  reset(): void {}
}
