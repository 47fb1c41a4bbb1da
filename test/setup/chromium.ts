/**
 * Real headless Chromium for the page tests: Debian's `chromium` driven with `playwright-core`. The
 * tests that need it are skipped, with a hint, where `/usr/bin/chromium` is missing.
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { chromium } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"

export const hasChromium = existsSync(CHROMIUM)

/** Warns, once per test file that calls it, that `what` is skipped for want of Chromium. */
export const warnIfMissing = (what: string): void => {
  if (hasChromium) return
  console.warn(
    `${what} skipped: ${CHROMIUM} not found. Install it with \`npm run install:browser\` ` +
      "(Debian's chromium package: apt-get install chromium)."
  )
}

/** A headless browser for the scope, closed when it closes. */
export const browser = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  ),
  (browser) => Effect.promise(() => browser.close())
)
