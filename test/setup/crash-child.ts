/**
 * Runs a crash test's child process (`node --import tsx <script> ...args`), which prints `ack <store> <n>`
 * for each acknowledged send, until it is killed with SIGKILL: by this after `acksBeforeKill` acks, or by
 * itself. Succeeds with the acks per store, in order; fails if the child exits any other way or is not
 * killed within `timeout`.
 */
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

export const runUntilKilled = (
  script: string,
  args: ReadonlyArray<string>,
  options: { readonly acksBeforeKill?: number | undefined; readonly timeout: Duration.DurationInput }
): Effect.Effect<Map<string, Array<number>>, Error> =>
  Effect.async<Map<string, Array<number>>, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "pipe", "inherit"] })
    const acked = new Map<string, Array<number>>()
    let count = 0
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const [word, store, n] = line.split(" ")
      if (word !== "ack") return
      const list = acked.get(store!) ?? []
      list.push(Number(n))
      acked.set(store!, list)
      if (++count === options.acksBeforeKill) child.kill("SIGKILL")
    })
    child.on("exit", (code, signal) =>
      resume(signal === "SIGKILL" ? Effect.succeed(acked) : Effect.fail(new Error(`the child exited by itself (${signal ?? code})`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new Error("the child never got that far") }))
