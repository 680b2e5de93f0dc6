import ipaddr from 'ipaddr.js';

export type CallbackUrlCheck = { ok: true; url: string } | { ok: false; description: string };

/** What a deployment lets callbacks reach beside public addresses: loopback and private networks (local runs). */
export interface CallbackPolicy {
  allowPrivate: boolean;
}

/** Ranges (ipaddr.js names) that `allowPrivate` opens. Link-local (169.254/16, fe80::/10) never: it holds the cloud metadata service. */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal']);
/** Cloud instance-metadata services that sit in a range `allowPrivate` opens (AWS over IPv6). */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254']);
const METADATA_HOSTS =
  /^(metadata|metadata\.google\.internal|metadata\.goog|instance-data(\.ec2\.internal)?)\.?$/;

/**
 * A status callback target: http(s) only, no credentials in the URL, and no loopback, private, link-local
 * or otherwise non-public address, so a tenant cannot make Tern call into its own network. A deployment may
 * allow loopback and private networks (`allowPrivate`, for local runs), never link-local addresses or a
 * cloud metadata service. Host names are checked as written; the sender of callbacks checks the resolved
 * address again (`callbackAddressAllowed`: DNS can point anywhere).
 */
export function checkCallbackUrl(text: string, options: CallbackPolicy): CallbackUrlCheck {
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
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (ipaddr.isValid(host)) {
    if (!callbackAddressAllowed(host, options)) {
      return { ok: false, description: `a ${addressRange(host)} address is not allowed` };
    }
  } else if (METADATA_HOSTS.test(host)) {
    return { ok: false, description: `host "${host}" is a cloud metadata service` };
  } else if (
    !options.allowPrivate &&
    (host === 'localhost' ||
      !host.includes('.') ||
      /\.(localhost|local|internal|lan|home|corp|intranet)$/.test(host))
  ) {
    return { ok: false, description: `host "${host}" is not a public name` };
  }
  return { ok: true, url: url.toString() };
}

/** ipaddr.js's range of an IP address ('unicast' for a public one), an IPv4-mapped IPv6 read as its IPv4. */
function addressRange(ip: string): string {
  return normalized(ip).range();
}

function normalized(ip: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }
  return address;
}

/** Whether an address may receive a status callback: public unicast, or a private one the policy opens. */
export function callbackAddressAllowed(ip: string, policy: CallbackPolicy): boolean {
  if (!ipaddr.isValid(ip)) return false;
  const address = normalized(ip);
  if (METADATA_ADDRESSES.has(address.toNormalizedString()) || METADATA_ADDRESSES.has(address.toString()))
    return false;
  const range = address.range();
  return range === 'unicast' || (policy.allowPrivate && PRIVATE_RANGES.has(range));
}
