import * as SchemaAST from "effect/SchemaAST"

/**
 * The tags an action schema's actions can have (`_tag` literals of tagged structs and classes, or the
 * string literals themselves), read from its encoded side; `undefined` when the schema allows actions
 * whose tag cannot be known this way (a plain `Schema.String`, a recursive schema, ...).
 *
 * @internal
 */
export const actionTags = (ast: SchemaAST.AST): ReadonlySet<string> | undefined => tagsOf(SchemaAST.encodedAST(ast))

const tagsOf = (ast: SchemaAST.AST): ReadonlySet<string> | undefined => {
  switch (ast._tag) {
    case "Literal":
      return typeof ast.literal === "string" ? new Set([ast.literal]) : undefined
    case "Refinement":
      return tagsOf(ast.from)
    case "TypeLiteral": {
      const tag = ast.propertySignatures.find((p) => p.name === "_tag")
      return tag === undefined ? undefined : tagsOf(tag.type)
    }
    case "Union": {
      const all = new Set<string>()
      for (const member of ast.types) {
        const tags = tagsOf(member)
        if (tags === undefined) return undefined
        for (const t of tags) all.add(t)
      }
      return all
    }
    default:
      return undefined
  }
}
