import type { EmuResponse, Origin, RouteMatch, RouteModule } from './server';

function errors(status: number, message: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errors: [message] }),
  };
}

/** OneSignal routes; a placeholder until the OneSignal emulation is written. */
export class OneSignalModule implements RouteModule {
  match(origin: Origin, _method: string, path: string): RouteMatch | undefined {
    if (origin !== 'api' || !/^(?:\/api\/v1)?\/notifications(?:\/|$)/.test(path)) return undefined;
    return {
      route: 'onesignal.notifications',
      handle: () => errors(501, 'not implemented in emulator yet'),
    };
  }

  errorResponse(_route: string, status: number, message: string): EmuResponse {
    return errors(status, message);
  }

  reset(): void {}
}
