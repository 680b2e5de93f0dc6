import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { callbackAddressAllowed, type CallbackPolicy } from '@tern/sms-domain';

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * Checks every address a callback host resolves to at the moment of connecting: the URL was checked as
 * written when the message was accepted, but a public name can resolve to a private address later (and
 * with private addresses allowed, a name can still point at the metadata service).
 */
function allowedOnlyLookup(policy: CallbackPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.find((a) => !callbackAddressAllowed(a.address, policy));
      if (refused) {
        return callback(new Error(`${hostname} resolves to an address callbacks may not reach`), '', 0);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      return first ? callback(null, first.address, first.family) : callback(new Error('no address'), '', 0);
    });
  };
}

/** POSTs status callbacks over HTTP(S). Redirects are not followed: a callback URL is the tenant's own. */
export class CallbackSender {
  private readonly lookup: LookupFunction;

  constructor(private readonly options: { timeoutMs: number; allowPrivate: boolean }) {
    this.lookup = allowedOnlyLookup(options);
  }

  post(url: string, body: string, headers: Record<string, string>): Promise<PostOutcome> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ ok: false, error: 'not a URL' });
        return;
      }
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const options: RequestOptions = {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
        timeout: this.options.timeoutMs,
        lookup: this.lookup,
      };
      const req = send(target, options, (res) => {
        res.resume(); // the answer's body is not needed; reading it frees the socket
        const status = res.statusCode ?? 0;
        resolve(
          status >= 200 && status < 300
            ? { ok: true, status }
            : { ok: false, status, error: `HTTP ${status}` },
        );
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (error) => resolve({ ok: false, error: error.message }));
      req.end(body);
    });
  }
}
