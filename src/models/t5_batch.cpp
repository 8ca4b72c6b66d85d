#include "models/t5_batch.h"

#include <vector>

#include "io/json.h"

namespace t5zero::models {

namespace {
// A rectangular array of integer rows.
Tensor read_matrix(const JsonValue& value) {
  const std::vector<JsonValue> rows = value.as_array();
  if (rows.empty()) value.fail_here("expected at least one row");
  std::vector<int64_t> flat;
  const size_t width = rows.front().size();
  for (const JsonValue& row : rows) {
    const std::vector<JsonValue> items = row.as_array();
    if (items.empty()) row.fail_here("expected a non-empty row of ids");
    if (items.size() != width) {
      row.fail_here("expected ", width, " ids (rows must have equal lengths), got ", items.size());
    }
    for (const JsonValue& item : items) flat.push_back(item.as_int());
  }
  return Tensor::from_vector(flat,
                             {static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)});
}
}  // namespace

T5Batch read_t5_batch_json(const std::string& path) {
  const JsonValue root = JsonValue::parse_file(path);
  T5Batch batch;
  batch.input_ids = read_matrix(root.at("input_ids"));
  batch.labels = read_matrix(root.at("labels"));
  if (const auto mask = root.find("attention_mask")) {
    batch.attention_mask = read_matrix(*mask);
    T5_CHECK(batch.attention_mask.shape() == batch.input_ids.shape(), path,
             ": attention_mask has shape ", shape_str(batch.attention_mask.shape()), ", input_ids ",
             shape_str(batch.input_ids.shape()), "; expected the same");
  } else {
    batch.attention_mask = Tensor::ones(batch.input_ids.shape(), DType::i64);
  }
  T5_CHECK(batch.labels.size(0) == batch.input_ids.size(0), path, ": labels has ",
           batch.labels.size(0), " rows, input_ids ", batch.input_ids.size(0),
           "; expected the same");
  return batch;
}

}  // namespace t5zero::models
