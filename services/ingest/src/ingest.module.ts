import { Module } from '@nestjs/common';

/** Public gRPC API and the Kafka send-events intake: validate, enrich, deduplicate, publish sms.accepted. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class IngestModule {}
