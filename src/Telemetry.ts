/**
 * Exports a store's spans and metrics with OpenTelemetry through `@effect/opentelemetry`. Provide the
 * layer where the store is made: from then on the store makes its spans (without a tracer installed it
 * makes none), and Effect's metrics, the store's among them, are read by the metric readers given.
 * Import it from `composable-effect/otel`.
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Otlp from "@effect/opentelemetry/Otlp"
import type * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"

/**
 * @example
 * ```ts
 * import type { Telemetry } from "composable-effect/otel"
 *
 * const options: Telemetry.Options = { serviceName: "chat", traces: "console", prometheus: { port: 9464 } }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  /**
   * Where spans go: `"console"` prints them (batched), or give your own span processors (for OTLP, e.g.
   * `new BatchSpanProcessor(new OTLPTraceExporter())`). Default: no spans.
   */
  readonly traces?: "console" | SpanProcessor | ReadonlyArray<SpanProcessor> | undefined
  /** Metric readers, e.g. a `PeriodicExportingMetricReader` around an OTLP metric exporter. */
  readonly metrics?: MetricReader | ReadonlyArray<MetricReader> | undefined
  /** Also serve the metrics for Prometheus to scrape, at `http://host:port/metrics` by default. */
  readonly prometheus?: { readonly port: number; readonly endpoint?: string | undefined } | undefined
}

const asArray = <A>(value: A | ReadonlyArray<A> | undefined): ReadonlyArray<A> =>
  value === undefined ? [] : Array.isArray(value) ? value : [value as A]

/**
 * The OpenTelemetry Node SDK as a Layer, with the store's defaults: resource from the service name, spans
 * to the console or your processors, metrics to your readers and, optionally, a Prometheus endpoint.
 *
 * @example
 * ```ts
 * import { Reducer, Store } from "composable-effect"
 * import { Telemetry } from "composable-effect/otel"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Store.make({ initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1), label: "counter" })
 *   yield* store.send("inc")
 * }).pipe(Effect.scoped, Effect.provide(Telemetry.layer({ serviceName: "counter", traces: "console" })))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Resource.Resource> =>
  NodeSdk.layer(() => {
    const spanProcessor = options.traces === "console"
      ? [new BatchSpanProcessor(new ConsoleSpanExporter())]
      : asArray(options.traces)
    const metricReader = [
      ...asArray(options.metrics),
      ...(options.prometheus === undefined
        ? []
        : [new PrometheusExporter({ port: options.prometheus.port, endpoint: options.prometheus.endpoint ?? "/metrics" })])
    ]
    return {
      resource: {
        serviceName: options.serviceName,
        ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
      },
      ...(spanProcessor.length === 0 ? {} : { spanProcessor }),
      ...(metricReader.length === 0 ? {} : { metricReader })
    }
  })

/**
 * Exports spans, metrics and logs over OTLP/HTTP (JSON) to a collector at `baseUrl` (e.g.
 * `http://localhost:4318`), with `@effect/opentelemetry`'s own exporter and `fetch`: no OpenTelemetry SDK
 * needed.
 *
 * @example
 * ```ts
 * import { Telemetry } from "composable-effect/otel"
 *
 * const TelemetryLive = Telemetry.otlp({ serviceName: "chat", baseUrl: "http://localhost:4318" })
 * ```
 * @since 0.1.0
 * @category layers
 */
export const otlp = (options: {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  readonly baseUrl: string
  readonly exportInterval?: Duration.DurationInput | undefined
}): Layer.Layer<never> =>
  Otlp.layerJson({
    baseUrl: options.baseUrl,
    resource: {
      serviceName: options.serviceName,
      ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
    },
    ...(options.exportInterval === undefined
      ? {}
      : { metricsExportInterval: options.exportInterval, tracerExportInterval: options.exportInterval })
  }).pipe(Layer.provide(FetchHttpClient.layer))
