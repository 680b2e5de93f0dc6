import { Module } from '@nestjs/common';

/** Chooses a channel per message from live statistics; breakers, retries, throttling, priorities. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class RouterModule {}
