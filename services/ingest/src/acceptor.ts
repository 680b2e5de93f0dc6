import { isOfClass, sms, type events as Events } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
import type { TokenBuckets } from '@tern/redis';
import type { BulkPacer } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { metricsRegistry } from '@tern/telemetry';
import { Counter } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { acceptedEvent, acceptedView } from './domain/message-view';
import { validateSendRequest, type IntakePolicy, type Violation } from './domain/send-request';
import type { IdempotencyStore, Reservation } from './idempotency';
import type { MessageStore } from './message-store';
import type { Tenant } from '@tern/config';

/** How one request item ended. `retryable` failures are the platform's or the rate's, not the request's. */
export type ItemOutcome =
  | { kind: 'accepted'; response: sms.SendMessageResponse }
  | { kind: 'invalid'; violations: Violation[] }
  | { kind: 'rate-limited'; retryAfterMs: number }
  | { kind: 'conflict'; code: 'IDEMPOTENCY_KEY_REUSED' | 'REQUEST_IN_PROGRESS'; description: string };

const outcomes = new Counter({
  name: 'tern_ingest_requests_total',
  help: 'Send request items per intake path and outcome',
  labelNames: ['path', 'outcome'],
  registers: [metricsRegistry],
});

export interface AcceptorDeps {
  producer: TypedProducer;
  idempotency: IdempotencyStore;
  messages: MessageStore;
  limiter: TokenBuckets;
  /** Marketing waits here while OTPs are about and the process is busy. */
  bulkPace: BulkPacer;
  log: Logger;
  policy: () => IntakePolicy;
}

/** An item that repeats an earlier message, or an earlier item of the same batch. */
type Repeat = { index: number; ofMessage: string } | { index: number; ofItem: number };

interface Pending {
  index: number;
  message: Events.SmsMessage;
  reference: string;
  token: string;
  duplicate: boolean;
}

/** How a message came in: a caller waiting for the answer (gRPC, HTTP, SMPP), or a send event on Kafka. */
export type ApiPath = 'grpc' | 'http' | 'smpp' | 'kafka';

export interface AcceptOptions {
  /** Prefixes each item's field paths in violations (`messages[3].`). */
  fieldPrefix?: (index: number) => string;
  /**
   * Per request, what identifies it when it names no client_reference (a send event's id): a redelivered
   * event is then a repeat, never a second message.
   */
  intakeKeys?: readonly string[];
  /** Per request, the message id it gets when accepted, when the caller promised one already (SMPP parts). */
  messageIds?: readonly string[];
}

/**
 * The one way a message enters Tern, on every path (gRPC, HTTP, SMPP, Kafka send events): validate and enrich,
 * take the tenant's rate, resolve idempotency, store the view, publish `sms.accepted` and the ACCEPTED
 * status event, then confirm the reservation. Items are independent: each gets its own outcome.
 */
export class Acceptor {
  constructor(private readonly deps: AcceptorDeps) {}

  async accept(
    tenant: Tenant,
    requests: readonly sms.SendMessageRequest[],
    path: ApiPath,
    options: AcceptOptions = {},
  ): Promise<ItemOutcome[]> {
    // The tenant's send rate holds on every path. Kafka events wait for their tokens here (their records stay
    // in hand, uncommitted; never lost) and go in as the tokens come, each validated and stamped when it is
    // let in, so what follows them keeps to the rate too; a caller (gRPC, HTTP or SMPP) is told below when to
    // come back.
    if (path !== 'kafka') return this.acceptNow(tenant, requests, path, options);
    const outcomes: ItemOutcome[] = [];
    while (outcomes.length < requests.length) {
      const from = outcomes.length;
      const granted = await this.awaitTokens(tenant, requests.length - from);
      const admitted = requests.slice(from, from + granted);
      outcomes.push(...(await this.acceptNow(tenant, admitted, path, optionsFrom(options, from))));
    }
    return outcomes;
  }

  private async acceptNow(
    tenant: Tenant,
    requests: readonly sms.SendMessageRequest[],
    path: ApiPath,
    { fieldPrefix = () => '', intakeKeys, messageIds }: AcceptOptions,
  ): Promise<ItemOutcome[]> {
    const policy = this.deps.policy();
    const outcomes: (ItemOutcome | undefined)[] = requests.map(() => undefined);
    const valid: { index: number; message: Events.SmsMessage; fingerprint: string }[] = [];
    for (const [index, request] of requests.entries()) {
      const result = validateSendRequest(
        request,
        tenant.id,
        messageIds?.[index] ?? uuidv7(),
        policy,
        fieldPrefix(index),
      );
      if (result.ok) valid.push({ index, message: result.message, fingerprint: result.fingerprint });
      else outcomes[index] = { kind: 'invalid', violations: result.violations };
    }

    // Marketing waits its turn while OTPs are about and the process is busy (a mixed batch with it).
    const bulk = valid.filter((item) => isOfClass(item.message, 'bulk')).length;
    if (bulk < valid.length) this.deps.bulkPace.priorityWork();
    if (bulk > 0) await this.deps.bulkPace.admit(bulk);

    let admitted = valid;
    if (path !== 'kafka') {
      const grant = await this.deps.limiter.take([{ key: tenant.id, ...tenant.sendRate }], valid.length);
      admitted = valid.slice(0, grant.granted);
      // A cut batch is told when its remainder can pass at the tenant's rate, not when one token is back.
      const refused = valid.length - grant.granted;
      const retryAfterMs = Math.max(
        grant.retryAfterMs,
        Math.ceil((Math.min(refused, tenant.sendRate.burst) / tenant.sendRate.perSecond) * 1000),
      );
      for (const item of valid.slice(grant.granted)) {
        outcomes[item.index] = { kind: 'rate-limited', retryAfterMs };
      }
    }

    const toPublish: Pending[] = [];
    const repeats: Repeat[] = [];
    const firstByReference = new Map<string, { index: number; fingerprint: string }>();
    const withReference: typeof admitted = [];
    const referenceOf = (item: (typeof admitted)[number]) =>
      item.message.clientReference || (intakeKeys?.[item.index] ?? '');
    for (const item of admitted) {
      const reference = referenceOf(item);
      if (reference === '') {
        toPublish.push({ index: item.index, message: item.message, reference, token: '', duplicate: false });
        continue;
      }
      // The same reference twice in one batch: the later item is a repeat of the first.
      const first = firstByReference.get(reference);
      if (first) {
        if (first.fingerprint === item.fingerprint) repeats.push({ index: item.index, ofItem: first.index });
        else outcomes[item.index] = reused(reference);
        continue;
      }
      firstByReference.set(reference, { index: item.index, fingerprint: item.fingerprint });
      withReference.push(item);
    }
    const reservations = await this.deps.idempotency.reserve(
      tenant.id,
      withReference.map((item) => ({
        reference: referenceOf(item),
        messageId: item.message.messageId,
        fingerprint: item.fingerprint,
      })),
    );
    for (const [i, item] of withReference.entries()) {
      const { reservation, token } = reservations[i]!;
      const resolved = this.resolve(reservation, item.message);
      if (resolved.kind === 'publish') {
        toPublish.push({
          index: item.index,
          message: resolved.message,
          reference: referenceOf(item),
          token,
          duplicate: false,
        });
      } else if (resolved.kind === 'repeat') {
        repeats.push({ index: item.index, ofMessage: resolved.messageId });
      } else {
        outcomes[item.index] = resolved.outcome;
      }
    }

    await this.publish(tenant, toPublish);
    for (const item of toPublish) {
      outcomes[item.index] = { kind: 'accepted', response: responseOf(item.message, false) };
    }
    await this.answerRepeats(tenant, repeats, outcomes);

    for (const outcome of outcomes) this.count(path, outcome);
    return outcomes.map((o, i) => {
      if (!o) throw new Error(`send item ${i} was left without an outcome`);
      return o;
    });
  }

  /** Takes up to `count` of the tenant's send tokens: as many as the rate grants, waiting for one at least. */
  private async awaitTokens(tenant: Tenant, count: number): Promise<number> {
    for (;;) {
      const grant = await this.deps.limiter.take([{ key: tenant.id, ...tenant.sendRate }], count);
      if (grant.granted > 0) return grant.granted;
      await new Promise((resolve) => setTimeout(resolve, Math.max(grant.retryAfterMs, 10)));
    }
  }

  private resolve(
    reservation: Reservation,
    message: Events.SmsMessage,
  ):
    | { kind: 'publish'; message: Events.SmsMessage }
    | { kind: 'repeat'; messageId: string }
    | { kind: 'refused'; outcome: ItemOutcome } {
    switch (reservation.kind) {
      case 'new':
        return { kind: 'publish', message };
      case 'taken-over':
        return { kind: 'publish', message: { ...message, messageId: reservation.messageId } };
      case 'accepted':
        return reservation.sameRequest
          ? { kind: 'repeat', messageId: reservation.messageId }
          : { kind: 'refused', outcome: reused(message.clientReference) };
      case 'in-progress':
        return {
          kind: 'refused',
          outcome: {
            kind: 'conflict',
            code: 'REQUEST_IN_PROGRESS',
            description:
              'a request with this client_reference is being accepted right now; retry in a moment',
          },
        };
    }
  }

  /** View first (the status consumer may see the ACCEPTED event at once), then Kafka, then the reservation. */
  private async publish(tenant: Tenant, items: readonly Pending[]): Promise<void> {
    if (items.length === 0) return;
    const referenced = items.filter((i) => i.reference !== '');
    try {
      await this.deps.messages.create(
        items.map((i) => ({ tenantId: tenant.id, view: acceptedView(i.message) })),
      );
      await Promise.all(
        items.flatMap((i) => [
          this.deps.producer.enqueue(topics.accepted, { message: i.message }),
          this.deps.producer.enqueue(topics.status, acceptedEvent(i.message)),
        ]),
      );
    } catch (error) {
      await this.deps.idempotency.release(tenant.id, referenced).catch((e: unknown) => {
        this.deps.log.warn({ err: e }, 'could not release idempotency reservations; they expire in 30 s');
      });
      throw error;
    }
    await this.deps.idempotency.accepted(tenant.id, referenced);
  }

  /** A repeat answers with the first message's id and where it is now. */
  private async answerRepeats(
    tenant: Tenant,
    repeats: readonly Repeat[],
    outcomes: (ItemOutcome | undefined)[],
  ): Promise<void> {
    const earlier = repeats.flatMap((r) =>
      'ofMessage' in r ? [{ index: r.index, messageId: r.ofMessage }] : [],
    );
    const stored = await this.deps.messages.getMany(earlier.map((r) => r.messageId));
    for (const [i, repeat] of earlier.entries()) {
      const found = stored[i];
      const view = found && found.tenantId === tenant.id ? found.view : undefined;
      outcomes[repeat.index] = {
        kind: 'accepted',
        response: {
          messageId: repeat.messageId,
          status: view?.status ?? sms.MessageStatus.MESSAGE_STATUS_ACCEPTED,
          duplicate: true,
          encoding: view?.encoding ?? sms.Encoding.ENCODING_UNSPECIFIED,
          segments: view?.segments ?? 0,
          country: view?.country ?? '',
        },
      };
    }
    for (const repeat of repeats) {
      if (!('ofItem' in repeat)) continue;
      const first = outcomes[repeat.ofItem];
      outcomes[repeat.index] =
        first?.kind === 'accepted'
          ? { kind: 'accepted', response: { ...first.response, duplicate: true } }
          : first;
    }
  }

  private count(path: string, outcome: ItemOutcome | undefined): void {
    if (!outcome) return;
    const label = outcome.kind === 'accepted' && outcome.response.duplicate ? 'duplicate' : outcome.kind;
    outcomes.inc({ path, outcome: label });
  }
}

function reused(reference: string): ItemOutcome {
  return {
    kind: 'conflict',
    code: 'IDEMPOTENCY_KEY_REUSED',
    description: `client_reference "${reference}" was used before for a different message`,
  };
}

function responseOf(message: Events.SmsMessage, duplicate: boolean): sms.SendMessageResponse {
  return {
    messageId: message.messageId,
    status: sms.MessageStatus.MESSAGE_STATUS_ACCEPTED,
    duplicate,
    encoding: message.encoding,
    segments: message.segments,
    country: message.country,
  };
}

/** The options of a call's requests from index `from` on. */
function optionsFrom({ fieldPrefix, intakeKeys, messageIds }: AcceptOptions, from: number): AcceptOptions {
  return {
    ...(fieldPrefix ? { fieldPrefix: (index: number) => fieldPrefix(from + index) } : {}),
    ...(intakeKeys ? { intakeKeys: intakeKeys.slice(from) } : {}),
    ...(messageIds ? { messageIds: messageIds.slice(from) } : {}),
  };
}
