// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { dlrSettings } from './config';
import { DlrModule } from './dlr.module';

void runService({ name: 'dlr', settings: dlrSettings, module: DlrModule });
