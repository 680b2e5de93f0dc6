// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkIngestFiles, ingestSettings } from './config';
import { IngestModule } from './ingest.module';

void runService({
  name: 'ingest',
  settings: ingestSettings,
  checkFiles: checkIngestFiles,
  module: IngestModule,
});
