import { Module } from '@nestjs/common';

/** Per-route statistics from ClickHouse, turned into routing weights on routing.weights. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class AnalyticsModule {}
