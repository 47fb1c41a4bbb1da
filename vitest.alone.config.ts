import { defineConfig } from "vitest/config"
import base, { alone } from "./vitest.config.js"

/** The tests vitest.config.ts leaves out, run after the others by `npm test`: see `alone` there. */
export default defineConfig({ test: { ...base.test, include: alone, exclude: ["node_modules/**"] } })
