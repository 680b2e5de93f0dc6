// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { checkRiskFiles, riskSettings } from './config';
import { RiskModule } from './risk.module';

void runService({ name: 'risk', settings: riskSettings, checkFiles: checkRiskFiles, module: RiskModule });
