/**
 * The delivery receipt text of SMPP 3.4 Appendix B, as SMSCs put it in deliver_sm's short_message:
 * `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...`
 */
export const RECEIPT_STATES = [
  'DELIVRD',
  'EXPIRED',
  'DELETED',
  'UNDELIV',
  'ACCEPTD',
  'UNKNOWN',
  'REJECTD',
  'ENROUTE',
] as const;
export type ReceiptStat = (typeof RECEIPT_STATES)[number];

export interface ReceiptText {
  id: string;
  submitted: number;
  delivered: number;
  submitDate: Date;
  doneDate: Date;
  stat: ReceiptStat;
  err: string;
  /** The first characters of the original message; SMSCs send up to 20. Never logged. */
  text: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** YYMMDDhhmm in UTC (the format has no seconds and no zone; UTC is the common convention). */
export function formatReceiptDate(date: Date): string {
  return `${pad(date.getUTCFullYear() % 100)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}`;
}

export function formatReceiptText(r: ReceiptText): string {
  return (
    `id:${r.id} sub:${pad(r.submitted, 3)} dlvrd:${pad(r.delivered, 3)} ` +
    `submit date:${formatReceiptDate(r.submitDate)} done date:${formatReceiptDate(r.doneDate)} ` +
    `stat:${r.stat} err:${r.err} text:${r.text.slice(0, 20)}`
  );
}

const RECEIPT =
  /id:(\S+)\s+sub:(\d+)\s+dlvrd:(\d+)\s+submit[ _]date:(\d{10,12})\s+done[ _]date:(\d{10,12})\s+stat:(\w+)\s+err:(\w+)(?:\s+text:(.*))?/is;

function parseReceiptDate(s: string): Date {
  const [yy, mm, dd, hh, mi, ss] = (s.match(/\d\d/g) ?? []).map(Number);
  return new Date(Date.UTC(2000 + (yy ?? 0), (mm ?? 1) - 1, dd ?? 1, hh ?? 0, mi ?? 0, ss ?? 0));
}

/** Parses a receipt text; undefined when it is not one. Keys are matched case-insensitively. */
export function parseReceiptText(text: string): ReceiptText | undefined {
  const m = RECEIPT.exec(text);
  if (!m) return undefined;
  const stat = m[6]?.toUpperCase() as ReceiptStat;
  if (!RECEIPT_STATES.includes(stat)) return undefined;
  return {
    id: m[1] ?? '',
    submitted: Number(m[2]),
    delivered: Number(m[3]),
    submitDate: parseReceiptDate(m[4] ?? ''),
    doneDate: parseReceiptDate(m[5] ?? ''),
    stat,
    err: m[7] ?? '',
    text: m[8] ?? '',
  };
}
