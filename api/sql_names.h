// The names a PostgreSQL flag store (API.md §5.3) puts into SQL text: identifiers, which
// are validated here and double-quoted where they are used, and the dotted paths of a
// JSON document. Values never go into SQL text; they are bound parameters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agentrollout::api {

// PostgreSQL truncates identifiers at 63 bytes; a longer one would name something else.
inline constexpr std::size_t kMaxSqlIdentifier = 63;

// ^[A-Za-z_][A-Za-z0-9_]{0,62}$ (a column).
bool IsSqlIdentifier(std::string_view text);
// An identifier, optionally schema-qualified: `table` or `schema.table`.
bool IsQualifiedSqlIdentifier(std::string_view text);
// Segments of a dotted path into a JSON document, each ^[A-Za-z0-9_-]{1,128}$, the
// whole at most 256 characters: `unifiedServiceRolloutPercent`, `voice.enabled`.
bool IsJsonPath(std::string_view text);
// A flag key, ^[A-Za-z0-9_.-]{1,128}$: the stores bind it as a value, and check it again
// all the same (every byte from outside is hostile).
bool IsFlagKey(std::string_view text);
// "a.b.c" -> {"a", "b", "c"} (the text is not checked).
std::vector<std::string> SplitJsonPath(std::string_view text);

}  // namespace agentrollout::api
