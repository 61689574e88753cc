// Package condition compiles route conditions into a matcher that
// evaluates a request without allocating. It reads three kinds of text
// (docs/conditions.md has the full reference):
//
//   - Vamp's condition language, with Vamp's meaning: each of Vamp's
//     operands compiles to the HAProxy ACL Vamp generated for it
//     (HaProxyAclResolver.scala in magneticio/vamp), so that it matches what
//     HAProxy matched. "host == v" is "req.hdr(host) v": the whole Host
//     header, port included, exact and case-sensitive, for ==, is, has and
//     contains alike. "user-agent == v" is a case-sensitive substring, or an
//     alias of user-agents.yml looked up ignoring case. Bare names and values
//     run to a blank or parenthesis, as in Vamp's lexer.
//   - Raw HAProxy ACLs: "< acl >" inside the language, or a whole text the
//     language cannot read, which Vamp passed to HAProxy: one ACL
//     ("hdr_sub(user-agent) Android") or an HAProxy condition over anonymous
//     ACLs ("{ path_beg /a } || !{ src 10.0.0.0/8 }"). acl.go lists the
//     fetches, flags and match methods supported.
//   - Turnout's extensions: vhost (the Host header without its port,
//     ignoring case), path, method, query, src, "~" regular expressions
//     (Go RE2, unanchored) and header/cookie "==".
//
// # Grammar
//
//	expr    := term { ("or"|"||"|"|") term }
//	term    := factor { ("and"|"&&"|"&") factor }        "and" binds tighter than "or"
//	factor  := ("!"|"not") factor | "(" expr ")" | operand
//	operand := ("host"|"vhost") cmp value
//	         | UA cmp value                            UA := "user-agent" | "user.agent" | "useragent" | "user agent"
//	         | ("has"|"contains"|"misses") ("cookie"|"header"|"query") name
//	         | ("cookie"|"header"|"query") name cmp value
//	         | "path" cmp value | "method" cmp value
//	         | "src" ("=="|"!="|...) address-or-CIDR
//	         | "<" HAProxy-ACL ">"
//	cmp     := "=="|"="|"is"           exact       "!="|"!"|"not"   not exact
//	         | "has"|"contains"        substring   "misses"         not substring
//	         | "~"                     regexp      "!~"             not regexp
//	value   := bare | 'single' | "double"          a doubled quote inside stands for one: 'it''s'
//	name    := bare | 'single' | "double"
//
// A comparison on an absent header, cookie or query argument is false, so
// its negation is true. Errors are *SyntaxError, with the rune position,
// what was found and what was expected, or the HAProxy fetch or flag that
// is not supported.
//
// # Evaluation
//
// Compile parses into a tree of and/or/not nodes over comparisons, then
// lowers the tree into a branching program: one instruction per comparison,
// each with where to go on true and on false. Its size is linear in the
// condition (Vamp flattened conditions into disjunctive normal form,
// exponential in the operand count), it short-circuits like the tree, and
// Match runs it in one loop without allocating. Operands of an and/or are
// evaluated cheapest first (comparisons have no side effects, so only speed
// changes); String keeps the order as written.
//
// Regular expressions are compiled into a DFA over classes of runes, which
// costs one table lookup per input rune and never allocates. A pattern whose
// DFA would exceed 16384 cells (states × classes), such as
// "(a|b)*a(a|b){12}" or ".{1,300}", is left to package regexp, whose pooled
// machines make allocation in Match rare but possible.
package condition
