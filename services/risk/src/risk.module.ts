import { Module } from '@nestjs/common';
import { RiskService } from './risk.service';

/** Policy before money is spent: sender ID, content, fraud, rate limits, opt-outs; sms.approved or REJECTED. */
@Module({ providers: [RiskService] })
export class RiskModule {}
