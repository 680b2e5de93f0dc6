// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkDlrFiles, dlrSettings } from './config';
import { DlrModule } from './dlr.module';

void runService({ name: 'dlr', settings: dlrSettings, checkFiles: checkDlrFiles, module: DlrModule });
