import { Module } from '@nestjs/common';
import { IngestService } from './ingest.service';

/** Public gRPC API and the Kafka send-events intake: validate, enrich, deduplicate, publish sms.accepted. */
@Module({ providers: [IngestService] })
export class IngestModule {}
