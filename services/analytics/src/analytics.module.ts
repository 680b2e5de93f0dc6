import { Module } from '@nestjs/common';
import { AnalyticsService } from './analytics.service';

/** Per-route figures from ClickHouse, turned into routing weights on routing.weights. */
@Module({ providers: [AnalyticsService] })
export class AnalyticsModule {}
