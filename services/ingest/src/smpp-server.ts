import { hostname } from 'node:os';
import { createServer as createPlainServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { verifyPassword, type SmppAccount, type TenantDirectory } from '@tern/config';
import { serveWithTlsFiles, untilPortFree, type GrpcTls } from '@tern/service-kit';
import {
  readShortMessage,
  ShortMessageError,
  SMPP_VERSION_34,
  SmppSession,
  Status,
  statusName,
  Tlv,
  tlv,
  type Pdu,
} from '@tern/smpp';
import type { Logger } from '@tern/telemetry';
import { metricsRegistry } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import type { Acceptor, ItemOutcome } from './acceptor';
import { formatMessageId, readSubmit, violationStatus } from './domain/smpp-submit';
import { AccountReceipts, ensureReceiptsGroup, type Receiver } from './smpp-receipts';
import type { SmppStore } from './smpp-store';

type BindMode = 'transmitter' | 'receiver' | 'transceiver';

/** The name Tern gives in bind responses. */
const SYSTEM_ID = 'TERN';
/** Dead ESMEs are found by enquire_link when a session is quiet this long. */
const ENQUIRE_LINK_MS = 30_000;
/** A bind's hold on its account's limit, renewed every third of it while open: a dead instance's lapse. */
const BIND_HOLD_MS = 30_000;

const binds = new Gauge({
  name: 'tern_smpp_server_binds',
  help: 'ESME binds open on this instance, per mode',
  labelNames: ['mode'],
  registers: [metricsRegistry],
});
const responses = new Counter({
  name: 'tern_smpp_server_responses_total',
  help: 'Requests the SMPP server answered, per command and command_status',
  labelNames: ['command', 'status'],
  registers: [metricsRegistry],
});

interface Connection {
  /** Its hold on the account's bind limit (deployment-wide). */
  bindId: string;
  session: SmppSession;
  account?: SmppAccount;
  mode?: BindMode;
  /** A bind being checked (the password hash is slow on purpose): nothing else is taken meanwhile. */
  binding: boolean;
  receiver?: Receiver;
}

export interface SmppServerDeps {
  tenants: TenantDirectory;
  acceptor: Acceptor;
  store: SmppStore;
  redis: Redis;
  /** The tenant's status stream key (ingest's read model), from which its receipts are sent. */
  streamKey: (tenantId: string) => string;
  tls?: GrpcTls | undefined;
  log: Logger;
}

/**
 * Tern's SMPP 3.4 server for customers' ESMEs: binds authenticated per tenant (SMPP accounts in the tenants
 * file), submit_sm accepted through the same Acceptor as the gRPC and HTTP APIs (validation, rate limits,
 * then risk and routing downstream) and answered with the Tern message id, concatenated parts (UDH or SAR)
 * joined into one message, and delivery receipts back as deliver_sm to the submitting account's receiver binds, kept in
 * Redis while none is bound. The SMPP session itself (framing, windows, enquire_link, unbind, generic_nack)
 * is libs/smpp's, as on the connector's side.
 */
export class SmppServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  /** Per account (system_id) with receiver binds here. */
  private readonly receipts = new Map<string, AccountReceipts>();
  /** submit_sm in hand per account on this instance: its window. */
  private readonly inHand = new Map<string, number>();
  private readonly consumer = `${hostname()}-${process.pid}`;
  private stopReloading: (() => void) | undefined;
  private connectionCount = 0;
  private readonly renewal: NodeJS.Timeout;

  constructor(private readonly deps: SmppServerDeps) {
    this.renewal = setInterval(() => {
      const held = [...this.connections].flatMap((c) =>
        c.mode && c.account ? [{ systemId: c.account.systemId, bindId: c.bindId }] : [],
      );
      this.deps.store.renewBinds(held, BIND_HOLD_MS).catch((err: unknown) => {
        this.deps.log.warn({ err }, 'renewing SMPP binds failed; retrying');
      });
    }, BIND_HOLD_MS / 3);
    this.renewal.unref();
  }

  /** Listens in plain TCP and, with TLS configured, in TLS on `tlsPort`; resolves to the ports taken. */
  async listen(host: string, port: number, tlsPort: number): Promise<{ port: number; tlsPort?: number }> {
    // Receipt groups exist before any submit is taken, so no final status goes by unread.
    await Promise.all(
      this.deps.tenants
        .smppAccounts()
        .map((a) => ensureReceiptsGroup(this.deps.redis, this.deps.streamKey(a.tenant.id), a.systemId)),
    );
    const accept = (socket: Socket) => this.accept(socket);
    const plain = createPlainServer(accept);
    const ports: { port: number; tlsPort?: number } = { port: await this.start(plain, host, port) };
    if (this.deps.tls) {
      const served = serveWithTlsFiles(this.deps.tls, this.deps.log, (options) =>
        createTlsServer(options, accept),
      );
      this.stopReloading = served.stopReloading;
      ports.tlsPort = await this.start(served.server, host, tlsPort);
    }
    return ports;
  }

  private async start(server: Server, host: string, port: number): Promise<number> {
    this.servers.push(server);
    await untilPortFree(host, port, this.deps.log);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops taking binds, unbinds every ESME (answers in flight are sent first), stops sending receipts. */
  async close(): Promise<void> {
    this.stopReloading?.();
    clearInterval(this.renewal);
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all([...this.connections].map((c) => c.session.unbind()));
    for (const r of this.receipts.values()) r.close();
    await Promise.all(closed);
  }

  private accept(socket: Socket): void {
    const session = new SmppSession(socket, { enquireLinkIntervalMs: ENQUIRE_LINK_MS });
    const connection: Connection = {
      bindId: `${this.consumer}-${++this.connectionCount}`,
      session,
      binding: false,
    };
    this.connections.add(connection);
    session.on('request', (pdu) => void this.onRequest(connection, pdu));
    session.on('protocolError', (err) =>
      this.deps.log.info(
        { err: err.message, systemId: connection.account?.systemId },
        'SMPP peer sent a bad PDU',
      ),
    );
    session.on('close', () => this.onClose(connection));
  }

  private onClose(connection: Connection): void {
    this.connections.delete(connection);
    if (!connection.mode || !connection.account) return;
    binds.dec({ mode: connection.mode });
    // Left to lapse if Redis is away: the hold ends by itself.
    this.deps.store.releaseBind(connection.account.systemId, connection.bindId).catch(() => undefined);
    if (connection.receiver) this.receipts.get(connection.account.systemId)?.remove(connection.receiver);
  }

  private respond(connection: Connection, pdu: Pdu, status: number, body: object): void {
    responses.inc({ command: pdu.command, status: statusName.get(status) ?? String(status) });
    connection.session.respond(pdu as never, status, body as never);
  }

  private async onRequest(connection: Connection, pdu: Pdu): Promise<void> {
    switch (pdu.command) {
      case 'bind_transmitter':
      case 'bind_receiver':
      case 'bind_transceiver':
        return this.onBind(connection, pdu);
      case 'submit_sm':
        return this.onSubmit(connection, pdu);
      default:
        // deliver_sm, data_sm, submit_multi: not taken from an ESME here.
        return this.respond(
          connection,
          pdu,
          connection.mode ? Status.ESME_RINVCMDID : Status.ESME_RINVBNDSTS,
          { messageId: '' },
        );
    }
  }

  private async onBind(
    connection: Connection,
    pdu: Pdu<'bind_transmitter' | 'bind_receiver' | 'bind_transceiver'>,
  ): Promise<void> {
    const refuse = (status: number) => this.respond(connection, pdu, status, { systemId: '', tlvs: [] });
    if (connection.mode || connection.binding) return refuse(Status.ESME_RALYBND);
    connection.binding = true;
    try {
      const { systemId, password } = pdu.body;
      const account = this.deps.tenants.smppAccount(systemId);
      if (!account) return refuse(Status.ESME_RINVSYSID);
      if (!(await verifyPassword(password, account.passwordHash))) return refuse(Status.ESME_RINVPASWD);
      const mode = pdu.command.replace('bind_', '') as BindMode;
      try {
        const held = await this.deps.store.takeBind(
          systemId,
          connection.bindId,
          account.maxBinds,
          BIND_HOLD_MS,
        );
        if (!held) return refuse(Status.ESME_RBINDFAIL);
        await ensureReceiptsGroup(this.deps.redis, this.deps.streamKey(account.tenant.id), systemId);
      } catch (err) {
        this.deps.log.warn({ err, systemId }, 'Redis unavailable: bind refused for now');
        return refuse(Status.ESME_RBINDFAIL);
      }
      if (connection.session.isClosed) {
        await this.deps.store.releaseBind(systemId, connection.bindId).catch(() => undefined);
        return;
      }
      connection.account = account;
      connection.mode = mode;
      binds.inc({ mode });
      this.respond(connection, pdu, Status.ESME_ROK, {
        systemId: SYSTEM_ID,
        tlvs: [tlv.u8(Tlv.sc_interface_version, SMPP_VERSION_34)],
      });
      this.deps.log.info({ systemId, tenant: account.tenant.id, mode }, 'ESME bound');
      if (mode !== 'transmitter') {
        connection.receiver = { session: connection.session, window: account.window };
        this.receiptsOf(account).add(connection.receiver);
      }
    } finally {
      connection.binding = false;
    }
  }

  private receiptsOf(account: SmppAccount): AccountReceipts {
    let receipts = this.receipts.get(account.systemId);
    if (!receipts) {
      receipts = new AccountReceipts({
        redis: this.deps.redis,
        store: this.deps.store,
        streamKey: this.deps.streamKey(account.tenant.id),
        systemId: account.systemId,
        consumer: this.consumer,
        log: this.deps.log,
      });
      this.receipts.set(account.systemId, receipts);
    }
    return receipts;
  }

  private async onSubmit(connection: Connection, pdu: Pdu<'submit_sm'>): Promise<void> {
    const answer = (status: number, messageId = '') => this.respond(connection, pdu, status, { messageId });
    const account = connection.account;
    if (!account || (connection.mode !== 'transmitter' && connection.mode !== 'transceiver')) {
      return answer(Status.ESME_RINVBNDSTS);
    }
    const held = this.inHand.get(account.systemId) ?? 0;
    if (held >= account.window) return answer(Status.ESME_RTHROTTLED);
    this.inHand.set(account.systemId, held + 1);
    try {
      const { status, messageId } = await this.submit(account, pdu);
      answer(status, messageId ? formatMessageId(messageId, account.messageIdFormat) : '');
    } catch (err) {
      // Redis or Kafka away: nothing was accepted; the ESME sends it again later.
      this.deps.log.warn({ err, systemId: account.systemId }, 'submit_sm not accepted: platform unavailable');
      answer(Status.ESME_RMSGQFUL);
    } finally {
      this.inHand.set(account.systemId, (this.inHand.get(account.systemId) ?? 1) - 1);
    }
  }

  /** The submit_sm's command_status, and the Tern message id it was given (also for a part not last). */
  private async submit(
    account: SmppAccount,
    pdu: Pdu<'submit_sm'>,
  ): Promise<{ status: number; messageId?: string }> {
    const body = pdu.body;
    let content;
    try {
      content = readShortMessage(body);
    } catch (e) {
      return { status: (e as ShortMessageError).status };
    }
    const now = new Date();
    const reading = readSubmit(body, content.text, now);
    if (!reading.ok) return { status: reading.status };
    const tenant = account.tenant;
    let messageId = uuidv7();
    let text = content.text;
    const parts = content.concatenation && {
      tenantId: tenant.id,
      source: body.sourceAddr,
      destination: body.destinationAddr,
      reference: content.concatenation.reference,
      total: content.concatenation.total,
    };
    if (parts && content.concatenation) {
      const added = await this.deps.store.addPart(parts, content.concatenation.sequence, text, messageId);
      messageId = added.messageId;
      if (!added.texts) return { status: Status.ESME_ROK, messageId };
      text = added.texts.join('');
    }
    if (reading.receipt !== 'never') {
      // Kept before the message exists, so its final status can never come first.
      await this.deps.store.saveOrigin(messageId, {
        systemId: account.systemId,
        receipt: reading.receipt,
        idFormat: account.messageIdFormat,
        source: { ton: body.sourceAddrTon, npi: body.sourceAddrNpi, addr: body.sourceAddr },
        destination: { ton: body.destAddrTon, npi: body.destAddrNpi, addr: body.destinationAddr },
        submittedAt: now.getTime(),
      });
    }
    const [outcome] = await this.deps.acceptor.accept(tenant, [{ ...reading.request, body: text }], 'smpp', {
      messageIds: [messageId],
      // Two completions at once (the last part sent again while the first is accepted) are one message.
      ...(parts ? { intakeKeys: [`smpp:${messageId}`] } : {}),
    });
    const status = statusOf(outcome);
    if (status === Status.ESME_ROK && parts) await this.deps.store.forgetParts(parts);
    return status === Status.ESME_ROK ? { status, messageId } : { status };
  }
}

function statusOf(outcome: ItemOutcome | undefined): number {
  switch (outcome?.kind) {
    case 'accepted':
      return Status.ESME_ROK;
    case 'invalid':
      return violationStatus(outcome.violations);
    case 'rate-limited':
      return Status.ESME_RTHROTTLED;
    default:
      return Status.ESME_RSUBMITFAIL;
  }
}
