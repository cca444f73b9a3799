import type { ApnsTeamFixture } from './server';

/**
 * Default credentials and ids served by the emulator. The tokens are fake but long and distinctive,
 * so that tests can grep logs and outputs for leaks.
 */
export const DEFAULT_APNS_TEAM: ApnsTeamFixture = {
  teamId: 'ABCDE12345',
  bundleId: 'com.example.pushapp',
  tokens: {
    deliverymetrics: 'apns-dm-vg22eNztOyXqbwHkKzxlbcLTdxXrus5HreBpXZ60',
    broadcastapplicationmetric: 'apns-ba-cAzS1crDzPlenuAluGVHocAgR3xmQyN9Kol0bdRp',
    broadcastchannelmetrics: 'apns-bc-r4E__BibmP3Fp_Q8k8n-5K5R-RrnIGtgRWgc3RZn',
  },
  // Base64 of 16 bytes each; both contain '+' so that encoding mistakes show up.
  channelIds: ['D41q5RL0TcGPplOm+hKIzw==', 'G+4I917R8pT17ERyU1i1kA=='],
};

/** Number of PROCESSING status polls before an export job reports SUCCESS. */
export const DEFAULT_PROCESSING_POLLS = 2;
