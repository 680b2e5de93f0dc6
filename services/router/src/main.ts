// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { routerSettings } from './config';
import { RouterModule } from './router.module';

void runService({ name: 'router', settings: routerSettings, module: RouterModule });
