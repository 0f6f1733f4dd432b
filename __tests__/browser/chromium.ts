import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's `chromium` package, which `.ci/run` installs when it is absent. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `describe` when Chromium is installed. Without it the suite fails loudly on CI (`CI` set), where
 * `.ci/run` should have installed it, and is skipped with a message elsewhere.
 */
export function describeInChromium(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM_PATH)) return describe(name, fn);
  const missing = `${CHROMIUM_PATH} is missing: install it (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (process.env.CI) throw new Error(`${missing}. The browser tests must run on CI.`);
  console.warn(`Skipping the browser tests "${name}": ${missing}.`);
  describe.skip(name, fn);
}

/** Headless Chromium, with nothing that reaches for the network (the machine has no internet). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
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
 * Resolves once `condition()` holds, checked after each turn of the event loop; rejects naming
 * `what` after `ms`. For server-side state that announces no event (a subscriber count).
 */
export async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
