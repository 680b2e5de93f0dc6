// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkSmppConnectorFiles, smppConnectorSettings } from './config';
import { SmppConnectorModule } from './smpp-connector.module';

/**
 * What the connector writes (submission results, receipts, inbound messages) comes after the carrier has
 * the message, and a retry it asks for after a refused submission is late by a few ms at most: each waits up
 * to this long for company in its produce request. At 1,000 msg/s the connector sent the most produce
 * requests of any service, a few records each, one as soon as the last was answered.
 */
const PRODUCE_LINGER_MS = 5;

void runService({
  name: 'smpp-connector',
  produceLingerMs: PRODUCE_LINGER_MS,
  settings: smppConnectorSettings,
  checkFiles: checkSmppConnectorFiles,
  module: SmppConnectorModule,
});
