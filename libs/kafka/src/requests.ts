import { metricsRegistry } from '@tern/telemetry';
import type { RequestEvent } from 'kafkajs';
import { Counter } from 'prom-client';

/**
 * Requests this process's consumers and producers sent to the brokers, per API (Fetch, Produce,
 * OffsetCommit, Heartbeat, ...): each is a round trip the process and the broker pay whatever it carries
 * (`./tern bench` prints them per message).
 */
const requests = new Counter({
  name: 'tern_kafka_requests_total',
  help: 'Requests sent to the Kafka brokers by the consumers and producers, per API',
  labelNames: ['api'],
  registers: [metricsRegistry],
});

/** A consumer's or producer's listener of its REQUEST instrumentation event: counts the request. */
export const countRequest = ({ payload }: RequestEvent): void => {
  requests.inc({ api: payload.apiName });
};
