import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { actionTags } from "../../src/internal/tags.js"

class Saved extends Schema.TaggedClass<Saved>()("Saved", { id: Schema.Number }) {}

describe("actionTags", () => {
  it("reads the tags of tagged structs and classes and of string literals; unknown when any member has none", () => {
    const tagged = Schema.Union(Schema.TaggedStruct("Add", { title: Schema.String }), Saved, Schema.Literal("reset", "undo"))
    expect([...actionTags(tagged.ast)!].sort()).toEqual(["Add", "Saved", "reset", "undo"])
    expect(actionTags(Schema.String.ast)).toBeUndefined()
    expect(actionTags(Schema.Union(Saved, Schema.Struct({ n: Schema.Number })).ast)).toBeUndefined()
  })
})
