import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's headless Chromium (`apt-get install chromium`, done by scripts/setup.sh; TERN_CHROMIUM names
 * another), driven by playwright-core, which downloads no browser of its own.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.TERN_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
