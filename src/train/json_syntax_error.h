// Where a JSON text first breaks the grammar (RFC 8259), as "line L, column C: what". simdjson
// reports only an error code; a person editing a hand-written config needs the place.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace t5zero {

// nullopt when `text` is one valid JSON value (surrounded by optional whitespace); otherwise
// e.g. "line 3, column 14: expected a value, got ']'". Columns count bytes from 1.
std::optional<std::string> find_json_syntax_error(std::string_view text);

}  // namespace t5zero
