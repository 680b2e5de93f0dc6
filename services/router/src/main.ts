// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkRouterFiles, routerSettings } from './config';
import { RouterModule } from './router.module';

void runService({
  name: 'router',
  settings: routerSettings,
  checkFiles: checkRouterFiles,
  module: RouterModule,
});
