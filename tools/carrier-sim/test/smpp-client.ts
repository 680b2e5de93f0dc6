import { connect as tcpConnect } from 'node:net';
import {
  shortMessageBody,
  SmppSession,
  Status,
  Ton,
  readTlvInt,
  readTlvString,
  findTlv,
  Tlv,
  type Pdu,
  type ShortMessageBody,
} from '@tern/smpp';
import { decodeGsm7, encodeGsm7, parseReceiptText, type ReceiptText } from '@tern/sms-domain';

/** A plain SMPP client over TCP for tests: the same session layer Tern's connector uses. */
export async function connect(port: number): Promise<SmppSession> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new SmppSession(socket, { responseTimeoutMs: 5000 });
}

export async function bind(
  session: SmppSession,
  mode: 'transmitter' | 'receiver' | 'transceiver',
  systemId: string,
  password: string,
): Promise<number> {
  const resp = await session.request(`bind_${mode}`, {
    systemId,
    password,
    systemType: '',
    interfaceVersion: 0x34,
    addrTon: 0,
    addrNpi: 0,
    addressRange: '',
  });
  return resp.status;
}

export function sms(over: Partial<ShortMessageBody> = {}): ShortMessageBody {
  return shortMessageBody({
    sourceAddrTon: Ton.ALPHANUMERIC,
    sourceAddr: 'TernTest',
    destAddrTon: Ton.INTERNATIONAL,
    destAddrNpi: 1,
    destinationAddr: '6590000001',
    registeredDelivery: 1,
    shortMessage: encodeGsm7('Your code is 123456'),
    ...over,
  });
}

export interface ReceivedReceipt {
  text: ReceiptText;
  tlvId: string | undefined;
  tlvState: number | undefined;
  networkError: Buffer | undefined;
  receivedAt: number;
}

/** Answers every deliver_sm and keeps the receipts, parsed from text and TLVs. */
export function collectReceipts(session: SmppSession): ReceivedReceipt[] {
  const receipts: ReceivedReceipt[] = [];
  session.on('request', (pdu: Pdu) => {
    if (pdu.command !== 'deliver_sm') return;
    const text = parseReceiptText(decodeGsm7(pdu.body.shortMessage));
    if (text) {
      receipts.push({
        text,
        tlvId: readTlvString(pdu.body.tlvs, Tlv.receipted_message_id),
        tlvState: readTlvInt(pdu.body.tlvs, Tlv.message_state),
        networkError: findTlv(pdu.body.tlvs, Tlv.network_error_code),
        receivedAt: Date.now(),
      });
    }
    session.respond(pdu, Status.ESME_ROK, { messageId: '' });
  });
  return receipts;
}
