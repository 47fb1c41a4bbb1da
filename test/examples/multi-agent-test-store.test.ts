/**
 * The multi-agent orchestrator told as a TestStore story: every state change and every action the agents'
 * streams produce is asserted, in order, on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Action, initialState, reducer, type State } from "../../examples/multi-agent-progress.js"
import { TestStore } from "../../src/index.js"

const crew = [
  { name: "fast", steps: 2, pace: "10 millis" },
  { name: "slow", steps: 2, pace: "25 millis" }
] as const

const progress = (agent: string, percent: number) => (s: State): State => ({
  ...s,
  agents: s.agents.map((a) => a.name === agent ? { ...a, percent } : a)
})
const finished = (agent: string, phase: State["phase"]) => (s: State): State => ({
  phase,
  agents: s.agents.map((a) => a.name === agent ? { ...a, status: "finished" } : a)
})

describe("multi-agent orchestrator (TestStore)", () => {
  it.scoped("agents report progress concurrently, and the run is done when the last one finishes", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer })
      yield* store.send(Action.Start({ agents: crew }), {
        phase: "running",
        agents: [
          { name: "fast", percent: 0, status: "working" },
          { name: "slow", percent: 0, status: "working" }
        ]
      })
      // Each step sleeps its pace before it is reported: fast at 10 and 20 ms, slow at 25 and 50 ms.
      yield* TestClock.adjust("10 millis")
      yield* store.receive(Action.Progress({ agent: "fast", percent: 50 }), progress("fast", 50))
      yield* TestClock.adjust("10 millis")
      yield* store.receive(Action.Progress({ agent: "fast", percent: 100 }), progress("fast", 100))
      yield* store.receive(Action.Finished({ agent: "fast" }), finished("fast", "running"))
      yield* TestClock.adjust("5 millis")
      yield* store.receive(Action.Progress({ agent: "slow", percent: 50 }), progress("slow", 50))
      yield* TestClock.adjust("25 millis")
      yield* store.receive(Action.Progress({ agent: "slow", percent: 100 }), progress("slow", 100))
      yield* store.receive(Action.Finished({ agent: "slow" }), finished("slow", "done"))
      yield* store.finish()
    }))

  it.scoped("a crash becomes a Failed action and cancels the rest (non-exhaustive)", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer, exhaustivity: "non-exhaustive" })
      yield* store.send(Action.Start({ agents: [{ name: "slow", steps: 2, pace: "30 millis" }, { name: "bad", steps: 4, pace: "10 millis", failAt: 50 }] }))
      // bad fails at 10 ms, before slow's first update at 30 ms.
      yield* TestClock.adjust("15 millis")
      yield* store.receive(Action.Failed({ agent: "bad", error: "bad crashed at 50%" }), (s) => ({
        ...s,
        phase: "done",
        agents: s.agents.map((a) =>
          a.name === "bad" ? { ...a, status: "failed", error: "bad crashed at 50%" } : { ...a, status: "cancelled" }
        )
      }))
      // The cancelled agent's stream is gone: nothing more arrives, nothing is left running.
      yield* TestClock.adjust("100 millis")
      expect(yield* store.received).toEqual([])
      yield* store.finish()
    }))
})
