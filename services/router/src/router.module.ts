import { Module } from '@nestjs/common';
import { RouterService } from './router.service';

/** Chooses a channel per message from live statistics; breakers, retries, throttling, priorities, lanes. */
@Module({ providers: [RouterService] })
export class RouterModule {}
