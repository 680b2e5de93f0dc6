import { Module } from '@nestjs/common';
import { SmppConnectorService } from './smpp-connector.service';

/** SMPP 3.4 binds to carrier SMSCs: submits dispatches, turns receipts into sms.dlr. */
@Module({ providers: [SmppConnectorService] })
export class SmppConnectorModule {}
