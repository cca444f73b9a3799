import { apnsProvider } from './apns';
import { onesignalProvider } from './onesignal';
import { pushwooshProvider } from './pushwoosh';

/** Every vendor the source knows, in the order of its streams, checks and config blocks. */
export const PROVIDERS = [apnsProvider, onesignalProvider, pushwooshProvider] as const;
