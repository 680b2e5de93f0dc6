import { Module } from '@nestjs/common';

/** Policy before money is spent: content, sender ID, rate limits, fraud; publishes sms.approved or REJECTED. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class RiskModule {}
