import { topics, type TypedProducer } from '@tern/kafka';
import { Status, type Pdu, type SmppSession } from '@tern/smpp';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter } from 'prom-client';
import type { DeliverHandler } from './channel-binds';
import { mapDeliverSm } from './domain/deliver-mapper';
import type { ReceiptFlow } from './domain/receipt-flow';

const delivered = new Counter({
  name: 'tern_smpp_deliver_sm_total',
  help: 'deliver_sm received per channel and kind (receipt, inbound, unreadable)',
  labelNames: ['channel', 'kind'],
  registers: [metricsRegistry],
});

/**
 * Turns each deliver_sm of a channel into `sms.dlr` (receipts) or `sms.inbound` (MO, e.g. STOP), and answers
 * the SMSC only once Kafka has the event: if the write fails the SMSC is told to try again later
 * (ESME_RX_T_APPN), so no receipt is acknowledged and lost. `flow` learns how each receipt's write went.
 */
export function receiptForwarder(
  channelId: string,
  producer: TypedProducer,
  log: Logger,
  flow: ReceiptFlow,
): DeliverHandler {
  return (pdu: Pdu<'deliver_sm'>, session: SmppSession) => {
    const mapped = mapDeliverSm(pdu.body, channelId, new Date());
    delivered.inc({ channel: channelId, kind: mapped.kind });
    const ack = () => session.respond(pdu, Status.ESME_ROK, { messageId: '' });
    const retryLater = (error: unknown) => {
      log.error({ channel: channelId, err: error }, 'could not publish a deliver_sm; SMSC asked to retry');
      session.respond(pdu, Status.ESME_RX_T_APPN, { messageId: '' });
    };
    switch (mapped.kind) {
      case 'receipt': {
        const write = flow.taken(Date.now());
        producer.enqueue(topics.dlr, mapped.receipt).then(
          () => {
            write.written(Date.now());
            ack();
          },
          (error: unknown) => {
            write.refused(Date.now());
            retryLater(error);
          },
        );
        return;
      }
      case 'inbound':
        producer.enqueue(topics.inbound, mapped.message).then(ack, retryLater);
        return;
      case 'unreadable':
        // Sending it again would not make it readable: acknowledge, count and say so.
        log.warn(
          { channel: channelId, reason: mapped.reason },
          'unreadable deliver_sm acknowledged and dropped',
        );
        ack();
    }
  };
}
