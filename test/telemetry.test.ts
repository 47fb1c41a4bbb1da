import { describe, expect, it } from "@effect/vitest"
import { AggregationTemporality, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Stream } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Fx, Reducer, Store } from "../src/index.js"
import * as Telemetry from "../src/Telemetry.js"

type Action = { readonly _tag: "Start" } | { readonly _tag: "Item"; readonly n: number }
const reducer = Reducer.make((sum: number, action: Action) =>
  action._tag === "Start"
    ? [sum, Fx.stream(Stream.range(1, 3).pipe(Stream.map((n) => ({ _tag: "Item", n }) as const)))]
    : [sum + action.n, Fx.none]
)

/** A metric reader the test collects from on demand. */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override onForceFlush() {
    return Promise.resolve()
  }
  protected override onShutdown() {
    return Promise.resolve()
  }
}

const pointsOf = (metrics: ResourceMetrics, name: string): ReadonlyArray<{ attributes: Record<string, unknown>; value: unknown }> =>
  metrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown>; value: unknown }>)

describe("Telemetry", () => {
  it.live("the span tree of a stream effect: send span, effect span with per-item events and the item count", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: "otel-spans" })
      const task = yield* store.send({ _tag: "Start" })
      yield* task.finish
      const spans = exporter.getFinishedSpans()
      const send = spans.find((s) => s.name === "store.send")!
      const effect = spans.find((s) => s.name === "store.effect")!
      expect(send.attributes).toMatchObject({ "store.label": "otel-spans", "action.tag": "Start" })
      expect(effect.parentSpanContext?.spanId).toBe(send.spanContext().spanId)
      expect(effect.spanContext().traceId).toBe(send.spanContext().traceId)
      expect(effect.attributes).toMatchObject({
        "store.label": "otel-spans",
        "effect.type": "stream",
        "action.tag": "Start",
        "stream.items": 3
      })
      expect(effect.events.map((e) => [e.name, e.attributes?.["item"]])).toEqual([
        ["stream.item", 1],
        ["stream.item", 2],
        ["stream.item", 3]
      ])
    }).pipe(
      Effect.scoped,
      Effect.provide(Telemetry.layer({ serviceName: "test", traces: new SimpleSpanProcessor(exporter) }))
    )
  })

  it.live("the store's metrics are read through an OpenTelemetry metric reader", () => {
    const reader = new CollectingReader()
    return Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: "otel-metrics" })
      yield* Effect.flatMap(store.send({ _tag: "Start" }), (task) => task.finish)
      const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
      const actions = pointsOf(resourceMetrics, "store.actions.total").find((p) => p.attributes["store"] === "otel-metrics")
      expect(actions?.value).toBe(4)
      const streams = pointsOf(resourceMetrics, "store.effects.executed")
        .find((p) => p.attributes["store"] === "otel-metrics" && p.attributes["type"] === "stream")
      expect(streams?.value).toBe(1)
      const items = pointsOf(resourceMetrics, "store.stream_items.processed").find((p) => p.attributes["store"] === "otel-metrics")
      expect(items?.value).toBe(3)
      expect(resourceMetrics.resource.attributes["service.name"]).toBe("metrics-test")
    }).pipe(Effect.scoped, Effect.provide(Telemetry.layer({ serviceName: "metrics-test", metrics: reader })))
  })
})

describe("Telemetry.otlp", () => {
  it.live("exports the store's spans and metrics to an OTLP/HTTP collector", () =>
    Effect.gen(function*() {
      const received = new Map<string, Array<string>>()
      const collector = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createServer>>((resume) => {
          const server = createServer((request, response) => {
            let body = ""
            request.on("data", (chunk) => body += chunk)
            request.on("end", () => {
              received.set(request.url!, [...(received.get(request.url!) ?? []), body])
              response.writeHead(200, { "content-type": "application/json" }).end("{}")
            })
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const baseUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
      yield* Effect.gen(function*() {
        const store = yield* Store.make({ initialState: 0, reducer, label: "otel-otlp" })
        yield* Effect.flatMap(store.send({ _tag: "Start" }), (task) => task.finish)
      }).pipe(
        Effect.scoped,
        // Closing the layer flushes what is left.
        Effect.provide(Layer.fresh(Telemetry.otlp({ serviceName: "otlp-test", baseUrl, exportInterval: "50 millis" })))
      )
      const traces = (received.get("/v1/traces") ?? []).join("\n")
      expect(traces).toContain("store.send")
      expect(traces).toContain("store.effect")
      expect(traces).toContain("otlp-test")
      const metrics = (received.get("/v1/metrics") ?? []).join("\n")
      expect(metrics).toContain("store.actions.total")
    }).pipe(Effect.scoped))
})
