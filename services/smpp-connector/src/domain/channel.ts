import { secretRef } from '@tern/config';
import { z } from 'zod';

/** How a channel wants long messages joined and GSM text laid out: SMSCs differ. */
export const channelSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  systemId: z.string().min(1).max(15),
  /** Where the password comes from: an environment variable or a mounted secret file. Never inline. */
  password: secretRef,
  systemType: z.string().max(12).default(''),
  /** transceiver: one bind does both; pair: a transmitter and a receiver per bind slot. */
  bindMode: z.enum(['transceiver', 'pair']).default('transceiver'),
  binds: z.number().int().min(1).max(32).default(1),
  /** Submissions per second per bind; the connector never exceeds it. */
  tpsPerBind: z.number().positive(),
  /** submit_sm outstanding per bind. */
  window: z.number().int().min(1).max(1000).default(10),
  responseTimeoutMs: z.number().int().min(100).default(10_000),
  /**
   * How long after responseTimeoutMs a late submit_sm_resp is still taken as the answer (the attempt waits
   * for it) before the submission counts as in doubt and fails over: a late answer usually means the SMSC
   * took the message, and failing over then would send it twice.
   */
  lateResponseMs: z.number().int().min(0).default(30_000),
  enquireLinkIntervalMs: z.number().int().min(1000).default(30_000),
  gsm7: z.enum(['unpacked', 'packed']).default('unpacked'),
  /** Use data_coding 3 for texts that Latin-1 carries but GSM 03.38 does not. */
  latin1: z.boolean().default(false),
  concatenation: z.enum(['udh8', 'udh16', 'sar', 'payload']).default('udh8'),
});

export type ChannelConfig = z.infer<typeof channelSchema>;

export const channelsFileSchema = z.object({
  channels: z.array(channelSchema).min(1),
});
