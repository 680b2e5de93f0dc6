import { Module } from '@nestjs/common';
import { DlrService } from './dlr.service';

/** Correlates receipts with attempts and reports each attempt's status; retries retryable failures. */
@Module({ providers: [DlrService] })
export class DlrModule {}
