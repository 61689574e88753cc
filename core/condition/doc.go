// Package condition compiles Vamp's route-condition DSL, plus Turnout's
// extensions, into a matcher that evaluates a request without allocating.
//
// # Grammar
//
// Keywords are case-insensitive.
//
//	expr    := term { ("or"|"||"|"|") term }
//	term    := factor { ("and"|"&&"|"&") factor }        "and" binds tighter than "or"
//	factor  := ("!"|"not") factor | "(" expr ")" | operand
//	operand := "host" cmp value
//	         | UA cmp value                            UA := "user-agent" | "user.agent" | "useragent" | "user agent"
//	         | ("has"|"contains"|"misses") ("cookie"|"header"|"query") name
//	         | ("cookie"|"header"|"query") name cmp value
//	         | "path" cmp value | "method" cmp value
//	         | "src" ("=="|"!="|...) address-or-CIDR
//	cmp     := "=="|"="|"is"           exact       "!="|"!"|"not"   not exact
//	         | "has"|"contains"        substring   "misses"         not substring
//	         | "~"                     regexp      "!~"             not regexp
//	value   := bare | 'single' | "double"          a doubled quote inside stands for one: 'it''s'
//	name    := bare-name | 'single' | "double"
//
// A bare value is a run of visible characters other than parentheses, so it
// ends only at white space or a parenthesis: in "host==a&&path==/" the value
// is "a&&path==/". Put spaces around "and"/"or" after a bare value, or quote
// it. A bare name also stops at the operator characters = ! ~ & | < > and at
// quotes, so "header X-A==b" reads as it looks.
//
// # Semantics
//
// One rule for all string operands: == (=, is) is an exact comparison, has
// (contains) a substring test, ~ an unanchored Go RE2 regexp (package regexp
// syntax and semantics, as regexp.Match). Host and method compare ASCII case-insensitively (for == and has;
// a regexp sees the text as sent, use (?i) if needed); everything else is
// case-sensitive. Specifically:
//
//   - host: the Host header without its port ("[::1]:80" gives "[::1]"; a
//     bare IPv6 value is bracketed to match). If the value itself has a port,
//     the whole Host header is compared instead.
//   - user-agent: Vamp's exception: every positive comparison other than ~
//     is a case-sensitive substring match (HAProxy "-m sub"), so
//     "user-agent == Chrome" and "user-agent has Chrome" are the same. Two
//     of Vamp's aliases are not plain substrings: "IE" means "MSIE", and
//     "Safari" means containing both "Safari" and "Version" (the alias name
//     must be written exactly so).
//   - header NAME, cookie NAME, query NAME: the (first) value; header names
//     match case-insensitively, cookie and query names exactly.
//   - has/misses header|cookie|query NAME: presence.
//   - path: as sent, without the query string. method: as sent.
//   - src: the client address is in the prefix (a single address is a /32
//     or /128). IPv4-mapped IPv6 addresses count as IPv4; any comparison
//     other than ~ and !~ means "in the prefix".
//
// A comparison on an absent header, cookie or query argument is false, so
// its negation is true: absent does not contain v.
//
// Unparsable text is an error (*SyntaxError, with the rune position, what
// was found and what was expected); Vamp instead passed it through as a raw
// HAProxy ACL, and its explicit "< acl >" form is rejected too, since nothing
// downstream would understand it.
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
