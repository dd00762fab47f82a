// Debian's Chromium, driven by playwright-core, for the tests that need a real browser: what
// a page renders, and what the browser itself enforces (CORS, frame-ancestors) that no
// header assertion can prove. CI installs the package and sets GLASSBOX_REQUIRE_CHROMIUM=1;
// elsewhere the tests are skipped with a warning, so `npm test` works on a machine without it.
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));

export const chromiumPath: string | undefined = CANDIDATES.find((candidate) => {
  try {
    accessSync(candidate, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export const CHROMIUM_REQUIRED = process.env.GLASSBOX_REQUIRE_CHROMIUM === '1';

/** Whether to run the browser tests: yes with Chromium present, or when required (then they fail loudly). */
export function runsWithChromium(what: string): boolean {
  if (chromiumPath || CHROMIUM_REQUIRED) return true;
  console.warn(`skipping the ${what} tests: Debian's \`chromium\` package is not installed (CI installs it and sets GLASSBOX_REQUIRE_CHROMIUM=1)`);
  return false;
}

/** A headless Chromium (playwright gives it a fresh profile) with none of its own traffic to Google's hosts: the network here is closed. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('Chromium not found (/usr/bin/chromium): apt-get install chromium, as CI does, or set CHROMIUM_PATH');
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox', // CI runs as root
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
