import { CommandId, commandName, isResponse, Status, type CommandName } from './constants';

/** An optional parameter (TLV) as raw bytes; helpers in tlv.ts read and write the ones we use. */
export interface TlvValue {
  tag: number;
  value: Buffer;
}

export interface BindBody {
  systemId: string;
  password: string;
  systemType: string;
  interfaceVersion: number;
  addrTon: number;
  addrNpi: number;
  addressRange: string;
}

export interface BindRespBody {
  systemId: string;
  tlvs: TlvValue[];
}

/** The body of submit_sm and deliver_sm (sections 4.4.1 and 4.6.1): the same fields in the same order. */
export interface ShortMessageBody {
  serviceType: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  sourceAddr: string;
  destAddrTon: number;
  destAddrNpi: number;
  destinationAddr: string;
  esmClass: number;
  protocolId: number;
  priorityFlag: number;
  scheduleDeliveryTime: string;
  validityPeriod: string;
  registeredDelivery: number;
  replaceIfPresentFlag: number;
  dataCoding: number;
  smDefaultMsgId: number;
  /** Raw octets, UDH included when esm_class has UDHI: decoding text is the caller's business. */
  shortMessage: Buffer;
  tlvs: TlvValue[];
}

/**
 * A submit_sm or deliver_sm body with SMPP's defaults (no service type, TON/NPI unknown, no flags, no
 * receipt, SMSC default coding, no text) under the fields given.
 */
export function shortMessageBody(fields: Partial<ShortMessageBody>): ShortMessageBody {
  return {
    serviceType: '',
    sourceAddrTon: 0,
    sourceAddrNpi: 0,
    sourceAddr: '',
    destAddrTon: 0,
    destAddrNpi: 0,
    destinationAddr: '',
    esmClass: 0,
    protocolId: 0,
    priorityFlag: 0,
    scheduleDeliveryTime: '',
    validityPeriod: '',
    registeredDelivery: 0,
    replaceIfPresentFlag: 0,
    dataCoding: 0,
    smDefaultMsgId: 0,
    shortMessage: Buffer.alloc(0),
    tlvs: [],
    ...fields,
  };
}

export interface MessageIdBody {
  messageId: string;
}

export type EmptyBody = Record<string, never>;

/** Commands we only refuse (data_sm, submit_multi): the body is kept as bytes. */
export interface RawBody {
  raw: Buffer;
}

export interface Bodies {
  generic_nack: EmptyBody;
  bind_receiver: BindBody;
  bind_receiver_resp: BindRespBody;
  bind_transmitter: BindBody;
  bind_transmitter_resp: BindRespBody;
  bind_transceiver: BindBody;
  bind_transceiver_resp: BindRespBody;
  submit_sm: ShortMessageBody;
  submit_sm_resp: MessageIdBody;
  deliver_sm: ShortMessageBody;
  deliver_sm_resp: MessageIdBody;
  unbind: EmptyBody;
  unbind_resp: EmptyBody;
  enquire_link: EmptyBody;
  enquire_link_resp: EmptyBody;
  submit_multi: RawBody;
  submit_multi_resp: MessageIdBody;
  data_sm: RawBody;
  data_sm_resp: MessageIdBody;
}

export type Pdu<C extends CommandName = CommandName> = {
  [K in C]: { command: K; status: number; sequence: number; body: Bodies[K] };
}[C];

export const HEADER_LENGTH = 16;

/** A PDU that cannot be decoded; `status` is what the peer is told in generic_nack or the response. */
export class PduError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly sequence = 0,
  ) {
    super(message);
    this.name = 'PduError';
  }
}

// Maximum lengths of C-Octet Strings, terminating NUL included (section 4).
const MAX = {
  systemId: 16,
  password: 9,
  systemType: 13,
  addressRange: 41,
  serviceType: 6,
  addr: 21,
  time: 17,
  messageId: 65,
} as const;

class Writer {
  private readonly parts: Buffer[] = [];
  private length = 0;

  cstring(value: string, max: number, field: string): this {
    const bytes = Buffer.from(value, 'latin1');
    if (bytes.length + 1 > max) throw new Error(`${field} is longer than ${max - 1} octets`);
    return this.push(Buffer.concat([bytes, Buffer.alloc(1)]));
  }
  u8(value: number): this {
    return this.push(Buffer.from([value & 0xff]));
  }
  u16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    return this.push(b);
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    return this.push(b);
  }
  bytes(value: Buffer): this {
    return this.push(value);
  }
  tlvs(values: TlvValue[]): this {
    for (const t of values) this.u16(t.tag).u16(t.value.length).bytes(t.value);
    return this;
  }
  private push(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

class Reader {
  private offset = HEADER_LENGTH;
  constructor(
    private readonly buf: Buffer,
    private readonly sequence: number,
  ) {}

  get done(): boolean {
    return this.offset >= this.buf.length;
  }
  private fail(what: string): never {
    throw new PduError(what, Status.ESME_RINVCMDLEN, this.sequence);
  }
  cstring(max: number, field: string): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) this.fail(`${field} is not NUL-terminated`);
    if (end - this.offset + 1 > max) this.fail(`${field} is longer than ${max - 1} octets`);
    const value = this.buf.toString('latin1', this.offset, end);
    this.offset = end + 1;
    return value;
  }
  u8(field: string): number {
    if (this.offset + 1 > this.buf.length) this.fail(`${field} is missing`);
    return this.buf.readUInt8(this.offset++);
  }
  bytes(length: number, field: string): Buffer {
    if (this.offset + length > this.buf.length) this.fail(`${field} runs past the end of the PDU`);
    const value = Buffer.from(this.buf.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }
  rest(): Buffer {
    const value = Buffer.from(this.buf.subarray(this.offset));
    this.offset = this.buf.length;
    return value;
  }
  tlvs(): TlvValue[] {
    const out: TlvValue[] = [];
    while (!this.done) {
      if (this.offset + 4 > this.buf.length) {
        throw new PduError('truncated TLV header', Status.ESME_RINVTLVSTREAM, this.sequence);
      }
      const tag = this.buf.readUInt16BE(this.offset);
      const length = this.buf.readUInt16BE(this.offset + 2);
      this.offset += 4;
      if (this.offset + length > this.buf.length) {
        throw new PduError(
          `TLV 0x${tag.toString(16)} runs past the end`,
          Status.ESME_RINVTLVSTREAM,
          this.sequence,
        );
      }
      out.push({ tag, value: Buffer.from(this.buf.subarray(this.offset, this.offset + length)) });
      this.offset += length;
    }
    return out;
  }
}

function writeShortMessage(w: Writer, b: ShortMessageBody): void {
  if (b.shortMessage.length > 254)
    throw new Error('short_message is longer than 254 octets: use message_payload');
  w.cstring(b.serviceType, MAX.serviceType, 'service_type')
    .u8(b.sourceAddrTon)
    .u8(b.sourceAddrNpi)
    .cstring(b.sourceAddr, MAX.addr, 'source_addr')
    .u8(b.destAddrTon)
    .u8(b.destAddrNpi)
    .cstring(b.destinationAddr, MAX.addr, 'destination_addr')
    .u8(b.esmClass)
    .u8(b.protocolId)
    .u8(b.priorityFlag)
    .cstring(b.scheduleDeliveryTime, MAX.time, 'schedule_delivery_time')
    .cstring(b.validityPeriod, MAX.time, 'validity_period')
    .u8(b.registeredDelivery)
    .u8(b.replaceIfPresentFlag)
    .u8(b.dataCoding)
    .u8(b.smDefaultMsgId)
    .u8(b.shortMessage.length)
    .bytes(b.shortMessage)
    .tlvs(b.tlvs);
}

function readShortMessage(r: Reader): ShortMessageBody {
  const serviceType = r.cstring(MAX.serviceType, 'service_type');
  const sourceAddrTon = r.u8('source_addr_ton');
  const sourceAddrNpi = r.u8('source_addr_npi');
  const sourceAddr = r.cstring(MAX.addr, 'source_addr');
  const destAddrTon = r.u8('dest_addr_ton');
  const destAddrNpi = r.u8('dest_addr_npi');
  const destinationAddr = r.cstring(MAX.addr, 'destination_addr');
  const esmClass = r.u8('esm_class');
  const protocolId = r.u8('protocol_id');
  const priorityFlag = r.u8('priority_flag');
  const scheduleDeliveryTime = r.cstring(MAX.time, 'schedule_delivery_time');
  const validityPeriod = r.cstring(MAX.time, 'validity_period');
  const registeredDelivery = r.u8('registered_delivery');
  const replaceIfPresentFlag = r.u8('replace_if_present_flag');
  const dataCoding = r.u8('data_coding');
  const smDefaultMsgId = r.u8('sm_default_msg_id');
  const smLength = r.u8('sm_length');
  const shortMessage = r.bytes(smLength, 'short_message');
  return {
    serviceType,
    sourceAddrTon,
    sourceAddrNpi,
    sourceAddr,
    destAddrTon,
    destAddrNpi,
    destinationAddr,
    esmClass,
    protocolId,
    priorityFlag,
    scheduleDeliveryTime,
    validityPeriod,
    registeredDelivery,
    replaceIfPresentFlag,
    dataCoding,
    smDefaultMsgId,
    shortMessage,
    tlvs: r.tlvs(),
  };
}

function writeBody(w: Writer, pdu: Pdu): void {
  // SMPP 3.4 section 3.3: a response with a non-zero status carries no body.
  if (isResponse(CommandId[pdu.command]) && pdu.status !== Status.ESME_ROK) return;
  switch (pdu.command) {
    case 'bind_receiver':
    case 'bind_transmitter':
    case 'bind_transceiver': {
      const b = pdu.body;
      w.cstring(b.systemId, MAX.systemId, 'system_id')
        .cstring(b.password, MAX.password, 'password')
        .cstring(b.systemType, MAX.systemType, 'system_type')
        .u8(b.interfaceVersion)
        .u8(b.addrTon)
        .u8(b.addrNpi)
        .cstring(b.addressRange, MAX.addressRange, 'address_range');
      return;
    }
    case 'bind_receiver_resp':
    case 'bind_transmitter_resp':
    case 'bind_transceiver_resp':
      w.cstring(pdu.body.systemId, MAX.systemId, 'system_id').tlvs(pdu.body.tlvs);
      return;
    case 'submit_sm':
    case 'deliver_sm':
      writeShortMessage(w, pdu.body);
      return;
    case 'submit_sm_resp':
    case 'deliver_sm_resp':
    case 'data_sm_resp':
      w.cstring(pdu.body.messageId, MAX.messageId, 'message_id');
      return;
    case 'submit_multi_resp':
      w.cstring(pdu.body.messageId, MAX.messageId, 'message_id').u8(0); // no_unsuccess = 0
      return;
    case 'submit_multi':
    case 'data_sm':
      w.bytes(pdu.body.raw);
      return;
    case 'generic_nack':
    case 'unbind':
    case 'unbind_resp':
    case 'enquire_link':
    case 'enquire_link_resp':
      return;
  }
}

/** The body an error response stands for when it has none on the wire. */
function emptyBody(command: CommandName): Bodies[CommandName] {
  switch (command) {
    case 'bind_receiver_resp':
    case 'bind_transmitter_resp':
    case 'bind_transceiver_resp':
      return { systemId: '', tlvs: [] };
    case 'submit_sm_resp':
    case 'deliver_sm_resp':
    case 'data_sm_resp':
    case 'submit_multi_resp':
      return { messageId: '' };
    default:
      return {};
  }
}

/** Serialises a PDU, header included. */
export function encodePdu(pdu: Pdu): Buffer {
  const w = new Writer();
  writeBody(w, pdu);
  const body = w.finish();
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(HEADER_LENGTH + body.length, 0);
  header.writeUInt32BE(CommandId[pdu.command], 4);
  header.writeUInt32BE(pdu.status >>> 0, 8);
  header.writeUInt32BE(pdu.sequence >>> 0, 12);
  return Buffer.concat([header, body]);
}

/**
 * Parses one whole PDU (as cut by PduFramer). Unknown command ids and malformed bodies throw PduError with
 * the status to answer (ESME_RINVCMDID, ESME_RINVCMDLEN, ESME_RINVTLVSTREAM).
 */
export function decodePdu(buf: Buffer): Pdu {
  const length = buf.readUInt32BE(0);
  const commandId = buf.readUInt32BE(4);
  const status = buf.readUInt32BE(8);
  const sequence = buf.readUInt32BE(12);
  if (length !== buf.length)
    throw new PduError('command_length does not match the PDU', Status.ESME_RINVCMDLEN, sequence);
  const command = commandName.get(commandId);
  if (!command) {
    throw new PduError(`unknown command_id 0x${commandId.toString(16)}`, Status.ESME_RINVCMDID, sequence);
  }
  const r = new Reader(buf, sequence);
  const make = <K extends CommandName>(c: K, body: Bodies[K]) =>
    ({ command: c, status, sequence, body }) as Pdu<K>;
  // An error response usually comes without its body.
  if (isResponse(commandId) && status !== Status.ESME_ROK && r.done) return make(command, emptyBody(command));
  switch (command) {
    case 'bind_receiver':
    case 'bind_transmitter':
    case 'bind_transceiver':
      return make(command, {
        systemId: r.cstring(MAX.systemId, 'system_id'),
        password: r.cstring(MAX.password, 'password'),
        systemType: r.cstring(MAX.systemType, 'system_type'),
        interfaceVersion: r.u8('interface_version'),
        addrTon: r.u8('addr_ton'),
        addrNpi: r.u8('addr_npi'),
        addressRange: r.cstring(MAX.addressRange, 'address_range'),
      });
    case 'bind_receiver_resp':
    case 'bind_transmitter_resp':
    case 'bind_transceiver_resp':
      return make(command, { systemId: r.cstring(MAX.systemId, 'system_id'), tlvs: r.tlvs() });
    case 'submit_sm':
    case 'deliver_sm':
      return make(command, readShortMessage(r));
    case 'submit_sm_resp':
    case 'deliver_sm_resp':
    case 'data_sm_resp':
    case 'submit_multi_resp': {
      // deliver_sm_resp's message_id is unused and often sent as an empty body.
      const messageId = r.done ? '' : r.cstring(MAX.messageId, 'message_id');
      r.rest();
      return make(command, { messageId });
    }
    case 'submit_multi':
    case 'data_sm':
      return make(command, { raw: r.rest() });
    case 'generic_nack':
    case 'unbind':
    case 'unbind_resp':
    case 'enquire_link':
    case 'enquire_link_resp':
      return make(command, {});
  }
}
