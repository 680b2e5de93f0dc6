import { sms } from '@tern/contracts';
import { deliveryReceipt, Status, type ShortMessageBody, type SmppSession } from '@tern/smpp';
import type { Logger } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { formatMessageId, receiptDue } from './domain/smpp-submit';
import type { SmppStore } from './smpp-store';

/** The consumer group, on its tenant's status stream, that sends an SMPP account's receipts. */
export const receiptsGroup = (systemId: string) => `smpp-receipts:${systemId}`;
/** A receipt handed to a consumer and not acknowledged this long is taken over by another (its bind died). */
const CLAIM_IDLE_MS = 30_000;
/** How often a consumer looks again at its own unacknowledged receipts (refused or lost on the way). */
const RETRY_EVERY_MS = 5_000;
const BLOCK_MS = 1_000;

export interface Receiver {
  session: SmppSession;
  window: number;
}

/** A stream entry; its fields are null when it was trimmed from the stream while pending. */
type Entry = [id: Buffer, fields: Buffer[] | null];

/** Creates an account's receipt group if it has none; a new group starts at the stream's end. */
export async function ensureReceiptsGroup(redis: Redis, streamKey: string, systemId: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', streamKey, receiptsGroup(systemId), '$', 'MKSTREAM');
  } catch (error) {
    if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
  }
}

/**
 * One SMPP account's receipts on this instance, sent to its receiver binds here while it has any: an ESME
 * gets the receipts of the messages it submitted, with their ids as it knows them. They are read from the
 * tenant's status stream (which ingest keeps in Redis from `sms.status`) through the account's consumer group:
 * an entry is acknowledged once its deliver_sm was answered ESME_ROK, or at once when it owes no receipt.
 * So receipts wait in Redis, durably, while no receiver is bound anywhere; one refused or lost on the way is
 * sent again; and one handed to an instance whose bind died is taken over by another after CLAIM_IDLE_MS.
 */
export class AccountReceipts {
  private readonly receivers = new Set<Receiver>();
  /** Stream entries whose deliver_sm is out, not yet answered. */
  private readonly inFlight = new Set<string>();
  private readonly group: string;
  private connection: Redis | undefined;
  private running = false;
  private cursor = 0;
  private lastRetry = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly deps: {
      redis: Redis;
      store: SmppStore;
      streamKey: string;
      systemId: string;
      consumer: string;
      log: Logger;
    },
  ) {
    this.group = receiptsGroup(deps.systemId);
  }

  add(receiver: Receiver): void {
    this.receivers.add(receiver);
    if (!this.running) void this.run();
    this.wake?.();
  }

  remove(receiver: Receiver): void {
    this.receivers.delete(receiver);
    this.wake?.();
  }

  /** Stops reading (pending receipts stay in Redis for the next receiver). */
  close(): void {
    this.receivers.clear();
    this.connection?.disconnect();
    this.wake?.();
  }

  private room(): number {
    let room = 0;
    for (const r of this.receivers) room += Math.max(0, r.window - r.session.inFlight);
    return room;
  }

  private async run(): Promise<void> {
    this.running = true;
    // Reads block: a connection of its own, so the shared one is never held. Without auto-pipelining,
    // which would also drop callBuffer's command name (ioredis 5 sends its second argument as the command).
    const connection = this.deps.redis.duplicate({ enableAutoPipelining: false });
    this.connection = connection;
    try {
      while (this.receivers.size > 0) {
        const room = this.room();
        if (room === 0) {
          await this.sleep(BLOCK_MS);
          continue;
        }
        try {
          const entries =
            Date.now() - this.lastRetry >= RETRY_EVERY_MS
              ? await this.unfinished(connection, room)
              : await this.fresh(connection, room);
          await this.handle(entries);
        } catch (err) {
          if (this.receivers.size === 0) break;
          // Redis away: waited out; the receipts stay in the stream.
          this.deps.log.warn({ err, stream: this.deps.streamKey }, 'reading receipts failed; retrying');
          await this.sleep(BLOCK_MS);
        }
      }
    } finally {
      connection.disconnect();
      this.running = false;
    }
  }

  /** This consumer's unacknowledged entries not out right now, then others' left idle by a dead bind. */
  private async unfinished(connection: Redis, room: number): Promise<Entry[]> {
    this.lastRetry = Date.now();
    const { streamKey, consumer } = this.deps;
    const own = (await connection.callBuffer(
      'XREADGROUP',
      'GROUP',
      this.group,
      consumer,
      'COUNT',
      room,
      'STREAMS',
      streamKey,
      '0',
    )) as [Buffer, Entry[]][] | null;
    const mine = (own?.[0]?.[1] ?? []).filter(([id]) => !this.inFlight.has(id.toString()));
    const claimed = (await connection.callBuffer(
      'XAUTOCLAIM',
      streamKey,
      this.group,
      consumer,
      CLAIM_IDLE_MS,
      '0-0',
      'COUNT',
      room,
    )) as [Buffer, Entry[]];
    const taken = (claimed[1] ?? []).filter(([id]) => !this.inFlight.has(id.toString()));
    return [...mine, ...taken];
  }

  private async fresh(connection: Redis, room: number): Promise<Entry[]> {
    const reply = (await connection.callBuffer(
      'XREADGROUP',
      'GROUP',
      this.group,
      this.deps.consumer,
      'COUNT',
      room,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      this.deps.streamKey,
      '>',
    )) as [Buffer, Entry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  private async handle(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const events = entries.map(([id, fields]) => ({
      entryId: id.toString(),
      event: fields?.[1] ? sms.StatusEvent.decode(fields[1]) : undefined,
    }));
    const origins = await this.deps.store.origins(events.map((e) => e.event?.messageId ?? ''));
    const done: string[] = [];
    for (const [i, { entryId, event }] of events.entries()) {
      const origin = origins[i];
      const ours = origin?.systemId === this.deps.systemId;
      const due = event && origin && ours ? receiptDue(event, origin.receipt) : undefined;
      if (!event || !origin || !due) {
        done.push(entryId);
        continue;
      }
      const receiver = this.pick();
      if (!receiver) break; // no room after all: left pending, looked at again on the next retry
      const body = deliveryReceipt({
        id: formatMessageId(event.messageId, origin.idFormat),
        submitted: 1,
        delivered: due.stat === 'DELIVRD' ? 1 : 0,
        submitDate: new Date(origin.submittedAt),
        doneDate: event.occurredAt ?? new Date(),
        stat: due.stat,
        err: due.err,
        // Tern keeps no message text, so the receipt carries none.
        text: '',
        handset: origin.destination,
        esme: origin.source,
      });
      this.send(receiver, entryId, event.messageId, body);
    }
    if (done.length > 0) await this.deps.redis.xack(this.deps.streamKey, this.group, ...done);
  }

  /** Round-robin over the receivers with room in their window. */
  private pick(): Receiver | undefined {
    const receivers = [...this.receivers];
    for (let k = 0; k < receivers.length; k++) {
      const r = receivers[(this.cursor + k) % receivers.length];
      if (r && !r.session.isClosed && r.session.inFlight < r.window) {
        this.cursor += k + 1;
        return r;
      }
    }
    return undefined;
  }

  private send(receiver: Receiver, entryId: string, messageId: string, body: ShortMessageBody): void {
    this.inFlight.add(entryId);
    receiver.session
      .request('deliver_sm', body)
      .then(async (resp) => {
        // Refused (the ESME is busy, or broken): left pending, sent again on a later retry.
        if (resp.status !== Status.ESME_ROK) return;
        await this.deps.redis.xack(this.deps.streamKey, this.group, entryId);
        await this.deps.store.forgetOrigin(messageId);
      })
      .catch(() => undefined) // bind lost or no answer: pending, sent again on a later retry
      .finally(() => {
        this.inFlight.delete(entryId);
        this.wake?.();
      });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
