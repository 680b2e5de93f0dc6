const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local hour (0-23) at `at` in an IANA time zone. */
export function localHour(at: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return Number(f.format(at));
}

const inWindow = (hour: number, from: number, to: number) =>
  from <= to ? hour >= from && hour < to : hour >= from || hour < to;

/**
 * When marketing may go out: `at` itself inside the local window [from, to), else the start of the next
 * local hour inside it (found hour by hour, so daylight-saving shifts and half-hour zones are honoured).
 */
export function nextAllowedTime(at: number, window: { from: number; to: number; timeZone: string }): number {
  if (inWindow(localHour(at, window.timeZone), window.from, window.to)) return at;
  const HOUR = 3_600_000;
  // Hour starts in the zone: step to the next whole UTC quarter hour, then by quarter hours (covers :30/:45 zones).
  let t = Math.ceil(at / (HOUR / 4)) * (HOUR / 4);
  for (let i = 0; i < 4 * 48; i++, t += HOUR / 4) {
    if (inWindow(localHour(t, window.timeZone), window.from, window.to)) return t;
  }
  return at; // an empty window ([h, h)) never opens: do not hold the message forever
}
