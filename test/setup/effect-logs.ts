/**
 * A vitest setup file: the Effect log lines a test writes are printed only if that test fails.
 *
 * Effect's default logger writes each log line to the console in logfmt (`timestamp=... level=ERROR
 * fiber=#12 message=...`). `it.effect` and `it.scoped` remove that logger, but `it.live` keeps it, so a
 * live test that makes a reducer throw on purpose printed the store's `reducer threw` error with its
 * stack trace although it passed. Here each test's Effect log lines are held, printed if the test fails
 * (so a real failure shows every log that led to it) and dropped if it passes. Anything else written to
 * the console, and log lines written outside a test, print as before. Tests that assert on logs give
 * their own `Logger`, which this does not touch.
 */
import { afterAll, afterEach, beforeEach } from "vitest"

const effectLogLine = /^timestamp=\S+ level=[A-Z]+ fiber=/
const methods = ["log", "info", "warn", "error", "debug", "trace"] as const
type Method = (typeof methods)[number]

const original = new Map<Method, (...args: Array<unknown>) => void>(
  methods.map((method) => [method, console[method]])
)
let held: Array<() => void> | undefined

for (const method of methods) {
  const write = original.get(method)!
  console[method] = (...args: Array<unknown>) => {
    if (held !== undefined && typeof args[0] === "string" && effectLogLine.test(args[0])) {
      held.push(() => write.apply(console, args))
    } else {
      write.apply(console, args)
    }
  }
}

beforeEach((context) => {
  const lines: Array<() => void> = []
  held = lines
  context.onTestFailed(() => {
    for (const print of lines) print()
  })
})

afterEach(() => {
  held = undefined
})

afterAll(() => {
  for (const [method, write] of original) console[method] = write
})
