import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Benchmarks live in bench/ and are run by `npm run bench`, never by `npm test`.
    exclude: ["bench/**", "node_modules/**"],
    // Effect log lines a test writes (a reducer that throws on purpose logs its stack trace) are printed
    // only when that test fails.
    setupFiles: ["test/setup/effect-logs.ts"],
    testTimeout: 30_000
  }
})
