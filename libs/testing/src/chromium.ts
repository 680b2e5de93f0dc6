import { chromium, type Browser, type Page } from 'playwright-core';

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

/**
 * The laid-out width of each SVG element `selector` matches on the page: a chart that rendered has widths,
 * markup that did not lay out has none.
 */
export function renderedWidths(page: Page, selector: string): Promise<number[]> {
  return page
    .locator(selector)
    .evaluateAll((shapes) =>
      shapes.map((s) => (s as unknown as { getBBox(): { width: number } }).getBBox().width),
    );
}
