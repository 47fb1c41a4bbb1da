import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { IncomingMessage } from "node:http"

/** Past this many bytes an oversized body is no longer read and discarded: the connection is dropped. */
const DISCARD_LIMIT = 16 * 1024 * 1024

/** Why a body was not read: larger than the limit, or the connection failed while reading it. @internal */
export type BodyFailure = "TooLarge" | "Unreadable"

/**
 * Counts a body's raw bytes and keeps them while they fit `max`; past it, reading goes on (discarding) up
 * to a hard cap, so the client gets its 413 instead of a dropped connection.
 */
class Body {
  private readonly chunks: Array<Uint8Array> = []
  private size = 0
  constructor(private readonly max: number) {}
  /** Takes a chunk; false once reading should stop. */
  add(chunk: Uint8Array): boolean {
    this.size += chunk.byteLength
    if (this.size <= this.max) this.chunks.push(chunk)
    return this.size <= Math.max(this.max, DISCARD_LIMIT)
  }
  get result(): Either.Either<Buffer, BodyFailure> {
    return this.size > this.max ? Either.left("TooLarge") : Either.right(Buffer.concat(this.chunks))
  }
}

/**
 * The body from Node's request with its own events: one callback per chunk, where the platform's
 * `request.stream` runs an Effect stream per request (measured: a third of a small POST's CPU).
 */
const fromNode = (source: IncomingMessage, body: Body): Effect.Effect<Either.Either<Buffer, BodyFailure>> =>
  Effect.async((resume) => {
    const stop = () => {
      source.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onError)
    }
    const onData = (chunk: Buffer) => {
      if (body.add(chunk)) return
      stop()
      source.pause()
      resume(Effect.succeed(body.result))
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(body.result))
    }
    const onError = () => {
      stop()
      resume(Effect.succeed(Either.left("Unreadable" as const)))
    }
    source.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onError)
    return Effect.sync(stop)
  })

/** The request's body, at most `max` bytes. @internal */
export const readBody = (
  request: HttpServerRequest.HttpServerRequest,
  max: number
): Effect.Effect<Either.Either<Buffer, BodyFailure>> => {
  if (Number(request.headers["content-length"] ?? Number.NaN) > max) return Effect.succeed(Either.left("TooLarge"))
  const body = new Body(max)
  const source = request.source
  if (source instanceof IncomingMessage && !source.readableDidRead && !source.readableEnded) return fromNode(source, body)
  // Another platform (or a body someone started reading): the platform's stream of it.
  return Stream.runForEachWhile(request.stream, (chunk) => Effect.sync(() => body.add(chunk))).pipe(
    Effect.match({ onFailure: () => Either.left("Unreadable" as const), onSuccess: () => body.result })
  )
}
