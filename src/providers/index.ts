import { apnsProvider } from './apns';
import { onesignalProvider } from './onesignal';
import type { Provider } from './provider';
import { pushwooshProvider } from './pushwoosh';

/** Every vendor the source knows, in the order of its streams, checks and config blocks. */
export const PROVIDERS: Provider[] = [apnsProvider, onesignalProvider, pushwooshProvider];
