import { Module } from '@nestjs/common';

/** SMPP 3.4 binds to carrier SMSCs: submits dispatches, turns receipts into sms.dlr. Skeleton: the kit provides config, Kafka, health and metrics. */
@Module({})
export class SmppConnectorModule {}
