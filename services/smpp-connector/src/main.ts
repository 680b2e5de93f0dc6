// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkSmppConnectorFiles, smppConnectorSettings } from './config';
import { SmppConnectorModule } from './smpp-connector.module';

void runService({
  name: 'smpp-connector',
  settings: smppConnectorSettings,
  checkFiles: checkSmppConnectorFiles,
  module: SmppConnectorModule,
});
