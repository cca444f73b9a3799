import type { ApnsTeamFixture } from '../core/types';

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

/**
 * The team's apps, the default one first: each has its own bundle ID, a token per dataset and
 * its own broadcast channels, so that tests of several apps can tell their rows and tokens apart.
 */
export const DEFAULT_APNS_APPS: ApnsTeamFixture[] = [
  DEFAULT_APNS_TEAM,
  {
    teamId: DEFAULT_APNS_TEAM.teamId,
    bundleId: 'com.example.newsapp',
    tokens: {
      deliverymetrics: 'apns-dm-N3wsQp7LrT2vXc9KzYb4HmWd6FjUa1GsE8oPiR5t',
      broadcastapplicationmetric: 'apns-ba-N3wsHs2KdLq8ZrYx5CmVb7NtWe4GjPa9UfR1oI6k',
      broadcastchannelmetrics: 'apns-bc-N3wsXk9RtQ3pLm7VcZb2YhWn5DfGs8JaUe4Ko1Ti',
    },
    channelIds: ['bmV3cy1icmVha2luZy0wMQ=='],
  },
  {
    teamId: DEFAULT_APNS_TEAM.teamId,
    bundleId: 'com.example.shopapp',
    tokens: {
      deliverymetrics: 'apns-dm-Sh0pWq4ZxT8mKc2LrYv6HbNd3FjGs9UaE5oPiR7t',
      broadcastapplicationmetric: 'apns-ba-Sh0pHs6KdLq1ZrYx9CmVb3NtWe7GjPa2UfR5oI8k',
      broadcastchannelmetrics: 'apns-bc-Sh0pXk2RtQ7pLm4VcZb8YhWn1DfGs5JaUe9Ko3Ti',
    },
    channelIds: ['c2hvcC1kZWFscy0wMQ+/', 'c2hvcC1uZXdzLTAy'],
  },
];

/** Number of PROCESSING status polls before an export job reports SUCCESS. */
export const DEFAULT_PROCESSING_POLLS = 2;
