// Tracing first: instrument must load before NestJS, grpc-js and kafkajs.
import './instrument';
import { runService } from '@tern/service-kit';
import { riskSettings } from './config';
import { RiskModule } from './risk.module';

void runService({ name: 'risk', settings: riskSettings, module: RiskModule });
