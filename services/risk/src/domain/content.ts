import { distance } from 'fastest-levenshtein';

export interface ContentFinding {
  code: 'CONTENT_PHISHING';
  description: string;
}

/** Hosts of links in a text: with or without a scheme, names or bare IPv4 addresses. */
const LINK =
  /\b(?:https?:\/\/)?((?:\d{1,3}\.){3}\d{1,3}|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?=[:/?#\s]|$)/giu;
const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;
/** Digits standing in for letters in lookalike domains (paypa1, g00gle, amaz0n). */
const LEET: Record<string, string> = { '0': 'o', '1': 'l', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b' };

/**
 * Phishing signals in a message's links, after the heuristics carriers and anti-phishing groups publish
 * (APWG, the GSMA's SMS spam guidance): links to a bare IP address, link shorteners (they hide the target),
 * and lookalike domains of well-known brands (one edit away, digits for letters, or the brand's name
 * inside somebody else's domain, e.g. paypal-secure-login.com).
 */
export function phishingSignal(
  body: string,
  rules: { shorteners: readonly string[]; brands: readonly string[] },
): ContentFinding | undefined {
  for (const match of body.matchAll(LINK)) {
    const host = (match[1] ?? '').toLowerCase();
    if (IPV4.test(host))
      return { code: 'CONTENT_PHISHING', description: `link to a bare IP address (${host})` };
    if (rules.shorteners.some((s) => host === s || host.endsWith(`.${s}`))) {
      return { code: 'CONTENT_PHISHING', description: `link shortener ${host} hides the destination` };
    }
    const labels = host.split('.');
    const registrable = labels.at(-2) ?? '';
    for (const brand of rules.brands) {
      if (registrable === brand) continue; // the brand's own domain
      for (const part of labels.slice(0, -1).flatMap((label) => label.split('-'))) {
        const unleeted = [...part].map((c) => LEET[c] ?? c).join('');
        // One edit away only for longer names: "apply" is a word, not an imitation of "apple".
        if (unleeted === brand || (brand.length >= 6 && distance(part, brand) === 1)) {
          return { code: 'CONTENT_PHISHING', description: `${host} imitates ${brand}` };
        }
      }
    }
  }
  return undefined;
}
