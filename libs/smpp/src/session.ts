import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { isResponse, CommandId, Status, statusName, type CommandName } from './constants';
import { FramingError, PduFramer } from './framing';
import { decodePdu, encodePdu, PduError, type Bodies, type Pdu } from './pdu';

export interface SessionOptions {
  /** Largest PDU accepted; a bigger command_length ends the session (the stream cannot be re-synchronised). */
  maxPduLength?: number;
  /** How long a request waits for its response before it fails with ResponseTimeoutError. */
  responseTimeoutMs?: number;
  /**
   * After a timeout, how long a late response is still taken (ResponseTimeoutError.late): an SMSC that
   * answers late has usually taken the message, and giving up on it would send it again elsewhere.
   */
  lateResponseMs?: number;
  /** Inbound requests handed out but not yet answered; above this the session stops reading the socket. */
  maxPendingInbound?: number;
  /** Send enquire_link this often when idle, and end the session when it is not answered: dead-peer detection. */
  enquireLinkIntervalMs?: number;
}

export type RequestCommand = Exclude<CommandName, `${string}_resp` | 'generic_nack'>;
export type ResponseCommand<C extends RequestCommand> = `${C}_resp` & CommandName;

export class ResponseTimeoutError extends Error {
  constructor(
    readonly command: CommandName,
    readonly sequence: number,
    timeoutMs: number,
    /** The response if it still comes within the session's `lateResponseMs`; undefined if not, or closed. */
    readonly late: Promise<Pdu | undefined> = Promise.resolve(undefined),
  ) {
    super(`no response to ${command} #${sequence} within ${timeoutMs} ms`);
    this.name = 'ResponseTimeoutError';
  }
}

export class SessionClosedError extends Error {
  constructor(
    readonly command: CommandName,
    readonly sequence: number,
  ) {
    super(`session closed before ${command} #${sequence} was answered`);
    this.name = 'SessionClosedError';
  }
}

/** The peer answered with generic_nack: it could not parse our request. */
export class GenericNackError extends Error {
  constructor(readonly status: number) {
    super(`generic_nack: ${statusName.get(status) ?? `0x${status.toString(16)}`}`);
    this.name = 'GenericNackError';
  }
}

interface Pending {
  command: CommandName;
  resolve: (pdu: Pdu) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A request past its timeout whose late response is still taken. */
interface Overdue {
  settle: (pdu: Pdu | undefined) => void;
  timer: NodeJS.Timeout;
}

export interface SessionEvents {
  /** A request from the peer (bind, submit_sm, deliver_sm, data_sm...); answer it with respond(). */
  request: [pdu: Pdu];
  /** Something the peer sent was wrong and was answered with generic_nack, or a stray response. */
  protocolError: [error: Error];
  close: [];
}

/**
 * One SMPP 3.4 connection, either side. Numbers and correlates requests, times out unanswered ones, answers
 * enquire_link and unbind itself, answers garbage with generic_nack without disturbing the rest of the
 * stream, and applies back-pressure: it stops reading while too many requests are unanswered or while the
 * socket cannot take more writes, instead of buffering without bound.
 */
export class SmppSession extends EventEmitter<SessionEvents> {
  private readonly framer: PduFramer;
  private readonly pending = new Map<number, Pending>();
  private readonly overdue = new Map<number, Overdue>();
  private readonly options: Required<Omit<SessionOptions, 'enquireLinkIntervalMs'>> & {
    enquireLinkIntervalMs?: number;
  };
  private sequence = 0;
  private pendingInbound = 0;
  /** Frames read but not yet handled because we were overloaded: at most one socket chunk. */
  private backlog: Buffer[] = [];
  private draining = false;
  private writeBlocked = false;
  /** Writes are being gathered for one system call (see write()). */
  private corked = false;
  private closed = false;
  private lastReceivedAt = Date.now();
  private enquireTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    options: SessionOptions = {},
  ) {
    super();
    this.options = {
      maxPduLength: 65_536,
      responseTimeoutMs: 10_000,
      lateResponseMs: 0,
      maxPendingInbound: 512,
      ...options,
    };
    this.framer = new PduFramer(this.options.maxPduLength);
    // SMPP is request/response with small PDUs: Nagle's algorithm only adds latency.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateFlow();
    });
    socket.on('close', () => this.onClose());
    // Errors end in 'close'; listening here keeps them from being thrown as unhandled.
    socket.on('error', () => undefined);
    if (this.options.enquireLinkIntervalMs) this.startEnquireLink(this.options.enquireLinkIntervalMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests sent and not answered yet: the window in use. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends a request and resolves with its response (whatever its status); rejects on timeout or close. */
  request<C extends RequestCommand>(command: C, body: Bodies[C]): Promise<Pdu<ResponseCommand<C>>> {
    if (this.closed) return Promise.reject(new SessionClosedError(command, 0));
    this.sequence = this.sequence >= 0x7fffffff ? 1 : this.sequence + 1;
    const sequence = this.sequence;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(sequence);
        reject(
          new ResponseTimeoutError(
            command,
            sequence,
            this.options.responseTimeoutMs,
            this.awaitLate(sequence),
          ),
        );
      }, this.options.responseTimeoutMs);
      this.pending.set(sequence, { command, resolve: resolve as (pdu: Pdu) => void, reject, timer });
      this.write({ command, status: Status.ESME_ROK, sequence, body } as Pdu);
    });
  }

  /** Answers a request received through the 'request' event. */
  respond<C extends RequestCommand>(request: Pdu<C>, status: number, body: Bodies[ResponseCommand<C>]): void {
    const command = `${request.command}_resp` as ResponseCommand<C>;
    this.write({ command, status, sequence: request.sequence, body } as Pdu);
    this.pendingInbound = Math.max(0, this.pendingInbound - 1);
    this.updateFlow();
  }

  /** Sends unbind, waits for unbind_resp (or the timeout), then closes. */
  async unbind(): Promise<void> {
    if (this.closed) return;
    try {
      await this.request('unbind', {});
    } catch {
      // The peer may close first or not answer: we are leaving anyway.
    }
    await this.close();
  }

  /** Ends the connection after what is written; resolves once it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.once('close', resolve);
      this.socket.end();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(pdu: Pdu): void {
    if (this.socket.destroyed) return;
    // The PDUs of one burst of work (a fetch's submissions, receipts answered together) leave in one system
    // call, not one each: the socket stays corked until this turn's ticks and promise jobs have run.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    if (!this.socket.write(encodePdu(pdu))) {
      this.writeBlocked = true;
      this.updateFlow();
    }
  }

  private get overloaded(): boolean {
    return this.writeBlocked || this.pendingInbound >= this.options.maxPendingInbound;
  }

  private updateFlow(): void {
    // respond() can be called from a 'request' listener while we drain: the outer loop carries on.
    if (!this.draining) this.drainBacklog();
    const hold = this.overloaded || this.backlog.length > 0;
    if (hold && !this.socket.isPaused()) this.socket.pause();
    else if (!hold && this.socket.isPaused() && !this.closed) this.socket.resume();
  }

  private drainBacklog(): void {
    this.draining = true;
    try {
      while (this.backlog.length > 0 && !this.overloaded) this.onFrame(this.backlog.shift() as Buffer);
    } finally {
      this.draining = false;
    }
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedAt = Date.now();
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (error) {
      // The stream is no longer aligned on PDUs: say so once and end the session.
      this.write({ command: 'generic_nack', status: Status.ESME_RINVCMDLEN, sequence: 0, body: {} });
      this.emit('protocolError', error as FramingError);
      this.socket.end();
      return;
    }
    // One chunk can hold hundreds of PDUs: handle them only while we have room, keep the rest for later.
    this.backlog.push(...frames);
    this.updateFlow();
  }

  private onFrame(frame: Buffer): void {
    let pdu: Pdu;
    try {
      pdu = decodePdu(frame);
    } catch (error) {
      const e = error as PduError;
      this.write({
        command: 'generic_nack',
        status: e.status ?? Status.ESME_RSYSERR,
        sequence: e.sequence ?? 0,
        body: {},
      });
      this.emit('protocolError', e);
      return;
    }
    if (isResponse(CommandId[pdu.command])) return this.onResponse(pdu);
    switch (pdu.command) {
      case 'enquire_link':
        this.write({
          command: 'enquire_link_resp',
          status: Status.ESME_ROK,
          sequence: pdu.sequence,
          body: {},
        });
        return;
      case 'unbind':
        this.write({ command: 'unbind_resp', status: Status.ESME_ROK, sequence: pdu.sequence, body: {} });
        this.socket.end();
        return;
      default:
        this.pendingInbound++;
        this.emit('request', pdu);
    }
  }

  /** Keeps taking a timed-out request's response for `lateResponseMs` (the window slot is free meanwhile). */
  private awaitLate(sequence: number): Promise<Pdu | undefined> {
    if (this.options.lateResponseMs <= 0 || this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const settle = (pdu: Pdu | undefined) => {
        clearTimeout(timer);
        this.overdue.delete(sequence);
        resolve(pdu);
      };
      const timer = setTimeout(() => settle(undefined), this.options.lateResponseMs);
      this.overdue.set(sequence, { settle, timer });
    });
  }

  private onResponse(pdu: Pdu): void {
    const overdue = this.overdue.get(pdu.sequence);
    if (overdue) {
      overdue.settle(pdu.command === 'generic_nack' ? undefined : pdu);
      return;
    }
    const pending = this.pending.get(pdu.sequence);
    if (!pending) {
      this.emit('protocolError', new Error(`${pdu.command} #${pdu.sequence} answers no request of ours`));
      return;
    }
    this.pending.delete(pdu.sequence);
    clearTimeout(pending.timer);
    if (pdu.command === 'generic_nack') pending.reject(new GenericNackError(pdu.status));
    else pending.resolve(pdu);
  }

  private startEnquireLink(intervalMs: number): void {
    this.enquireTimer = setInterval(() => {
      if (Date.now() - this.lastReceivedAt < intervalMs) return;
      this.request('enquire_link', {}).catch(() => {
        // Unanswered: the peer or the path is dead even if TCP has not noticed.
        this.destroy();
      });
    }, intervalMs);
    this.enquireTimer.unref();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.enquireTimer);
    for (const [sequence, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SessionClosedError(p.command, sequence));
    }
    this.pending.clear();
    for (const o of [...this.overdue.values()]) o.settle(undefined);
    this.emit('close');
  }
}
