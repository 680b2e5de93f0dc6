import { REFUSED_RECEIPT_RESEND_MS, ReceiptFlow, STUCK_FORWARD_MS } from './receipt-flow';

describe('ReceiptFlow', () => {
  it('has forwarded without trouble since it started, while writes are quick', () => {
    const flow = new ReceiptFlow(1_000);
    const write = flow.taken(2_000);
    expect(flow.since(2_000 + STUCK_FORWARD_MS)).toBe(1_000);
    write.written(2_000 + STUCK_FORWARD_MS);
    expect(flow.since(5_000)).toBe(1_000);
  });

  it('is in trouble while a write is stuck, and forwards again from when it was written', () => {
    const flow = new ReceiptFlow(0);
    const first = flow.taken(1_000);
    const second = flow.taken(1_500);
    expect(flow.since(1_000 + STUCK_FORWARD_MS + 1)).toBeUndefined();
    first.written(9_000);
    expect(flow.since(9_001)).toBeUndefined(); // the second is still pending, and stuck
    second.written(9_500);
    expect(flow.since(9_600)).toBe(9_500);
  });

  it('gives the SMSC time to send a refused receipt again before it forwards without trouble', () => {
    const flow = new ReceiptFlow(0);
    flow.taken(1_000).refused(1_200);
    expect(flow.since(1_200 + REFUSED_RECEIPT_RESEND_MS - 1)).toBeUndefined();
    expect(flow.since(1_201 + REFUSED_RECEIPT_RESEND_MS)).toBe(1_200 + REFUSED_RECEIPT_RESEND_MS);
  });
});
