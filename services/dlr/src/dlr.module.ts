import { Module } from '@nestjs/common';

/** Correlates receipts with attempts, owns the status lifecycle, retries, callbacks, attempt records. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class DlrModule {}
