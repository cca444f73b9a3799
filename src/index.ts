export { runCli } from './airbyte/entrypoint';
export { pushDeliveryMetrics } from './source';
