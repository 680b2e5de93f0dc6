import ipaddr from 'ipaddr.js';

export type CallbackUrlCheck = { ok: true; url: string } | { ok: false; description: string };

/**
 * A status callback target: http(s) only, no credentials in the URL, and (unless the deployment allows
 * it, as local runs do) no loopback, private, link-local or otherwise non-public address, so a tenant
 * cannot make Tern call into its own network. Host names are checked as written; the sender of callbacks
 * must check the resolved address again (DNS can point anywhere).
 */
export function checkCallbackUrl(text: string, options: { allowPrivate: boolean }): CallbackUrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, description: 'not a URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return {
      ok: false,
      description: `scheme "${url.protocol.replace(':', '')}" is not allowed: http or https only`,
    };
  }
  if (url.username || url.password)
    return { ok: false, description: 'credentials in the URL are not allowed' };
  if (text.length > 2048) return { ok: false, description: 'longer than 2048 characters' };
  if (options.allowPrivate) return { ok: true, url: url.toString() };
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (ipaddr.isValid(host)) {
    const range = addressRange(host);
    if (range !== 'unicast') return { ok: false, description: `a ${range} address is not allowed` };
  } else if (
    host === 'localhost' ||
    !host.includes('.') ||
    /\.(localhost|local|internal|lan|home|corp|intranet)$/.test(host)
  ) {
    return { ok: false, description: `host "${host}" is not a public name` };
  }
  return { ok: true, url: url.toString() };
}

/** ipaddr.js's range of an IP address ('unicast' for a public one), an IPv4-mapped IPv6 read as its IPv4. */
function addressRange(ip: string): string {
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
  return address.range();
}

/** Whether a resolved address may receive a status callback: public unicast only. */
export function isPublicAddress(ip: string): boolean {
  return ipaddr.isValid(ip) && addressRange(ip) === 'unicast';
}
