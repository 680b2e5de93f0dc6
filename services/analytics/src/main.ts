// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkAnalyticsFiles, analyticsSettings } from './config';
import { AnalyticsModule } from './analytics.module';

void runService({
  name: 'analytics',
  settings: analyticsSettings,
  checkFiles: checkAnalyticsFiles,
  module: AnalyticsModule,
});
