import { defineConfig } from "vitest/config"

/**
 * Tests that start several processes of their own (three cluster runners and a PostgreSQL server; the
 * cluster demo's primary and two workers) and time what they do: they run after the others, alone (vitest.alone.config.ts), so the rest of the suite
 * running beside them on a 2-core machine does not starve their runners' health checks and locks.
 */
export const alone = ["test/cluster/multi-runner.test.ts", "test/examples/cluster-demo.test.ts"]

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Benchmarks live in bench/ and are run by `npm run bench`, never by `npm test`.
    exclude: ["bench/**", "node_modules/**", ...alone],
    // Effect log lines a test writes (a reducer that throws on purpose logs its stack trace) are printed
    // only when that test fails.
    setupFiles: ["test/setup/effect-logs.ts"],
    testTimeout: 30_000
  }
})
