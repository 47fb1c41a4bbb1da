import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Benchmarks live in bench/ and are run by `npm run bench`, never by `npm test`.
    exclude: ["bench/**", "node_modules/**"],
    testTimeout: 30_000
  }
})
