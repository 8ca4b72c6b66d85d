// The trainer's parts one by one: batching (padding, epoch orders, accumulation, ranks),
// fp32 masters beside bf16 weights, the trainer state file, checkpoint rotation, TensorBoard
// records (CRC-32C test vectors, read-back, corruption), the progress line, the stop signal.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "io/token_dataset.h"
#include "models/parameter_store.h"
#include "optim/adamw.h"
#include "temp_folder.h"
#include "train/batcher.h"
#include "train/checkpoint.h"
#include "train/mixed_precision.h"
#include "train/progress_bar.h"
#include "train/stop_signal.h"
#include "train/tensorboard_writer.h"
#include "train_test_data.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;
namespace fs = std::filesystem;

TEST_CASE("collate_rows pads as DataCollatorForSeq2Seq(pad_to_multiple_of=8)") {
  TempFolder folder("trainer_parts_collate");
  write_file_bytes(folder.file("rows.json"),
                   R"({"train": {"input_ids": [[5, 6, 7, 1], [9, 1], [3, 4, 5, 6, 7, 8, 9, 10, 1]],
                                 "labels": [[11, 12, 1], [13, 1], [14, 1]]}})");
  testing::write_rows_dataset(folder.file("data"), 256, folder.file("rows.json"));
  const TokenDataset data = TokenDataset::open(folder.file("data"));
  const TokenSplit& train = data.split("train");

  const std::vector<int64_t> first_two = {0, 1};
  const TrainBatch a = collate_rows(train, first_two, /*pad_id=*/0);
  CHECK(a.rows == 2);
  CHECK(a.input_tokens == 6);
  CHECK(a.label_tokens == 5);
  CHECK(a.tensors.input_ids.shape() == Shape{2, 8});
  CHECK(a.tensors.input_ids.to_vector<int64_t>() ==
        std::vector<int64_t>{5, 6, 7, 1, 0, 0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0});
  CHECK(a.tensors.attention_mask.to_vector<int64_t>() ==
        std::vector<int64_t>{1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0});
  CHECK(a.tensors.labels.to_vector<int64_t>() == std::vector<int64_t>{11, 12, 1, -100, -100, -100,
                                                                      -100, -100, 13, 1, -100, -100,
                                                                      -100, -100, -100, -100});
  // Nine input ids round up to 16; the row order is the order asked for.
  const std::vector<int64_t> reversed = {2, 0};
  const TrainBatch b = collate_rows(train, reversed, 0);
  CHECK(b.tensors.input_ids.shape() == Shape{2, 16});
  CHECK(b.tensors.input_ids.at({0, 8}) == 1);
  CHECK(b.tensors.input_ids.at({1, 0}) == 5);
  CHECK(b.tensors.labels.shape() == Shape{2, 8});
  // A multiple of 1 pads to the longest exactly.
  CHECK(collate_rows(train, first_two, 0, 1).tensors.input_ids.shape() == Shape{2, 4});
}

TEST_CASE("epoch orders are permutations keyed by seed and epoch; no shuffle keeps the order") {
  const std::vector<int64_t> order = epoch_row_order(1000, 42, 0, true);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(sorted == identity);
  CHECK(order != identity);
  CHECK(order == epoch_row_order(1000, 42, 0, true));  // deterministic
  CHECK(order != epoch_row_order(1000, 42, 1, true));  // a new order each epoch
  CHECK(order != epoch_row_order(1000, 43, 0, true));  // and each seed
  CHECK(epoch_row_order(1000, 42, 3, false) == identity);
  // Every row moves about uniformly: row 0 lands in each tenth of the order about as often.
  std::vector<int> tenth(10, 0);
  for (int64_t epoch = 0; epoch < 2000; ++epoch) {
    const std::vector<int64_t> o = epoch_row_order(50, 7, epoch, true);
    tenth[static_cast<size_t>(std::find(o.begin(), o.end(), 0) - o.begin()) / 5]++;
  }
  for (int count : tenth) CHECK(count > 120);  // 200 expected per tenth
}

TEST_CASE("EpochPlan: micro-batches, accumulation groups, ranks' slices") {
  const EpochPlan one(22, 2, 2);
  CHECK(one.micro_batches() == 11);
  CHECK(one.optimizer_steps() == 6);
  CHECK(one.first_micro_batch(5) == 10);
  CHECK(one.end_micro_batch(5) == 11);  // the last step keeps the one micro-batch left
  std::vector<int64_t> order(22);
  std::iota(order.rbegin(), order.rend(), 0);  // 21, 20, ..., 0
  CHECK(one.micro_batch_rows(order, 0, 0) == std::vector<int64_t>{21, 20});
  CHECK(one.micro_batch_rows(order, 10, 0) == std::vector<int64_t>{1, 0});
  CHECK(one.micro_batch_first_row(10, 0) == 20);

  // Three ranks: 22 rows extend to 24 (rows 0 and 1 again, as DistributedSampler pads), global
  // micro-batches of 2 x 3 rows; each rank takes its contiguous slice.
  const EpochPlan three(22, 2, 1, 3);
  CHECK(three.padded_rows() == 24);
  CHECK(three.micro_batches() == 4);
  CHECK(three.optimizer_steps() == 4);
  std::iota(order.begin(), order.end(), 0);
  CHECK(three.micro_batch_rows(order, 0, 1) == std::vector<int64_t>{2, 3});
  CHECK(three.micro_batch_rows(order, 3, 2) == std::vector<int64_t>{0, 1});
  std::multiset<int64_t> seen;
  for (int64_t m = 0; m < three.micro_batches(); ++m) {
    for (int64_t r = 0; r < 3; ++r) {
      for (int64_t row : three.micro_batch_rows(order, m, r)) seen.insert(row);
    }
  }
  CHECK(seen.size() == 24);
  CHECK(seen.count(0) == 2);
  CHECK(seen.count(21) == 1);
  // A last global micro-batch smaller than micro x world is split evenly.
  const EpochPlan uneven(10, 4, 1, 2);
  CHECK(uneven.micro_batches() == 2);
  CHECK(uneven.micro_batch_rows(std::vector<int64_t>(order.begin(), order.begin() + 10), 1, 1) ==
        std::vector<int64_t>{9});
}

TEST_CASE("bf16 runs keep fp32 masters: accumulation does not round, the step writes bf16 back") {
  models::ParameterStore store(DType::bf16);
  const models::ParamId w = store.add("encoder.block.0.layer.0.SelfAttention.q.weight", {2, 2},
                                      models::InitRecipe::constant(0));
  store.assign(w, Tensor::from_vector<float>({1.0f, -2.0f, 0.5f, 3.0f}, {2, 2}));
  MasterParameters masters(store, Precision::bf16);
  CHECK(masters.master(w)[1] == -2.0f);
  // Two micro-batches whose sum bf16 could not hold: 1 + 2^-10 needs 11 mantissa bits.
  for (const float g : {1.0f, 0.0009765625f}) {
    autograd::Variable parameter = store.variable(w);  // shares the parameter's state
    parameter.set_grad(Tensor::full({2, 2}, g, DType::bf16));
    masters.accumulate_gradients();
    CHECK(!store.variable(w).grad().defined());  // handed over and cleared
  }
  CHECK(masters.gradient(w)[0] == 1.0009765625f);
  AdamW optimizer;
  AdamWHyperparams h;
  h.lr = 0.01;
  optimizer.add_param_group(h);
  optimizer.step(0, masters.adamw_spans({w}));
  const Tensor weights = store.variable(w).data();
  for (int64_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(masters.master(w)[static_cast<size_t>(i)] != weights.to_vector<float>()[i]);  // rounded
    CHECK(to_bf16(masters.master(w)[static_cast<size_t>(i)]).bits == weights.data<bf16>()[i].bits);
  }
  CHECK(masters.master_bytes() == 16);
  CHECK_THROWS_WITH_AS(MasterParameters(store, Precision::fp32),
                       "mixed precision: a fp32 run needs a f32 parameter store, got bf16", Error);
  CHECK(exempt_from_weight_decay("encoder.block.0.layer.1.layer_norm.weight"));
  CHECK(exempt_from_weight_decay("decoder.final_layer_norm.weight"));
  CHECK(exempt_from_weight_decay(
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"));
  CHECK(!exempt_from_weight_decay("encoder.block.0.layer.0.SelfAttention.q.weight"));
  CHECK(!exempt_from_weight_decay("lm_head.weight"));
}

TEST_CASE("the trainer state round-trips through JSON; a foreign file is refused") {
  TrainerState s;
  s.global_step = 17;
  s.data = {2, 3, 1234};
  s.seed = 42;
  s.precision = Precision::bf16;
  s.world_size = 2;
  s.micro_batch_size = 8;
  s.gradient_accumulation_steps = 4;
  s.dataset_rows = 287113;
  s.optimizer_group_steps = {17, 17};
  s.scheduler_state = R"({"type":"WarmupLR","steps_taken":17})";
  s.best_metric = 1.25;
  s.best_model_checkpoint = "out/checkpoint-10";
  s.logging_loss_sum = 3.5;
  s.logging_steps = 2;
  s.train_loss_sum = 40.0;
  const TrainerState r = parse_trainer_state(trainer_state_json(s), "state.json");
  CHECK(r.global_step == 17);
  CHECK(r.data.epoch == 2);
  CHECK(r.data.step_in_epoch == 3);
  CHECK(r.data.samples_seen == 1234);
  CHECK(r.precision == Precision::bf16);
  CHECK(r.micro_batch_size == 8);
  CHECK(r.optimizer_group_steps == std::vector<int64_t>{17, 17});
  CHECK(r.scheduler_state == s.scheduler_state);
  CHECK(r.best_metric == 1.25);
  CHECK(r.best_model_checkpoint == "out/checkpoint-10");
  CHECK(r.logging_loss_sum == 3.5);
  CHECK(r.train_loss_sum == 40.0);
  s.best_metric.reset();
  CHECK(!parse_trainer_state(trainer_state_json(s), "state.json").best_metric);
  CHECK_THROWS_WITH_AS(
      parse_trainer_state(R"({"format": "hf-trainer-state", "version": 1})", "state.json"),
      "state.json: key 'format': expected \"t5zero-trainer-state\", got \"hf-trainer-state\"",
      Error);
}

TEST_CASE("rotate_checkpoints keeps the newest and the best, as HF's _rotate_checkpoints") {
  TempFolder folder("trainer_parts_rotate");
  const auto make = [&](std::vector<int> steps) {
    fs::remove_all(folder.path);
    fs::create_directories(folder.path);
    for (int step : steps) {
      const fs::path dir = folder.path / checkpoint_folder_name(step);
      fs::create_directories(dir);
      write_file_bytes((dir / kTrainerStateFile).string(), "{}");
    }
    // Neither an unfinished checkpoint nor an unrelated folder counts.
    fs::create_directories(folder.path / "checkpoint-9.tmp-123");
    fs::create_directories(folder.path / "checkpoint-99");  // no trainer state: incomplete
    fs::create_directories(folder.path / "logs");
  };
  const auto kept = [&] {
    std::vector<int64_t> steps;
    for (const auto& [step, path] : list_checkpoints(folder.path.string())) steps.push_back(step);
    return steps;
  };
  const std::string dir = folder.path.string();
  const auto best = [&](int step) { return folder.file(checkpoint_folder_name(step)); };

  make({1, 2, 3, 4, 5});
  CHECK(kept() == std::vector<int64_t>{1, 2, 3, 4, 5});  // numeric order, complete ones only
  CHECK(latest_checkpoint(dir) == best(5));
  CHECK(rotate_checkpoints(dir, 2, "").size() == 3);
  CHECK(kept() == std::vector<int64_t>{4, 5});
  make({1, 2, 3, 4, 5});
  rotate_checkpoints(dir, 2, best(2));
  CHECK(kept() == std::vector<int64_t>{2, 5});
  make({1, 2, 3, 4, 5});
  rotate_checkpoints(dir, 3, best(1));  // best moves to the second-newest place: [2,3,4,1,5]
  CHECK(kept() == std::vector<int64_t>{1, 4, 5});
  make({1, 2, 3, 4, 5});
  rotate_checkpoints(dir, 1, best(3));  // a limit of 1 keeps 2 when the best is not the newest
  CHECK(kept() == std::vector<int64_t>{3, 5});
  make({1, 2, 3, 4, 5});
  rotate_checkpoints(dir, 1, best(5));
  CHECK(kept() == std::vector<int64_t>{5});
  make({1, 2, 3, 10});
  rotate_checkpoints(dir, 0, best(1));  // 0: keep all
  CHECK(kept() == std::vector<int64_t>{1, 2, 3, 10});
  CHECK(latest_checkpoint(dir) == best(10));  // 10 after 3, not after 1
  CHECK(fs::is_directory(folder.path / "logs"));
}

TEST_CASE("CRC-32C and its TFRecord mask match the published values") {
  CHECK(crc32c("") == 0u);
  CHECK(crc32c("123456789") == 0xE3069283u);              // the CRC-32C check value
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);    // RFC 3720 B.4
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);  // RFC 3720 B.4
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending) == 0x46DD794Eu);  // RFC 3720 B.4
  const uint32_t c = crc32c("123456789");
  CHECK(masked_crc32c("123456789") == ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST_CASE("TensorBoard events read back; a corrupted or cut file is refused by record") {
  TempFolder folder("trainer_parts_tensorboard");
  std::string path;
  {
    TensorBoardWriter writer(folder.file("logs"));
    path = writer.path();
    writer.add_scalar("train/loss", 2.5, 10, 1.7e9);
    writer.add_scalar("eval/rouge1", 31.25, 1000000000000, 1.7e9 + 1);
  }
  CHECK(fs::path(path).parent_path() == folder.file("logs"));
  const std::vector<TensorBoardEvent> events = read_tensorboard_events(path);
  REQUIRE(events.size() == 3);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[0].values.empty());
  CHECK(events[1].step == 10);
  CHECK(events[1].wall_time == 1.7e9);
  REQUIRE(events[1].values.size() == 1);
  CHECK(events[1].values[0].tag == "train/loss");
  CHECK(events[1].values[0].simple_value == 2.5f);
  CHECK(events[2].step == 1000000000000);  // a multi-byte varint
  CHECK(events[2].values[0].tag == "eval/rouge1");
  CHECK(events[2].values[0].simple_value == 31.25f);

  // The Event bytes themselves, hand-checked: field 1 (double, tag 0x09), field 2 (varint,
  // 0x10), field 5 (message, 0x2a) holding Summary.value (0x0a) {tag (0x0a), simple_value
  // (float, 0x15)}.
  const std::string bytes = read_file_bytes(path);
  const size_t second = 12 + static_cast<uint8_t>(bytes[0]) + 4;  // after the first record
  const std::string event = bytes.substr(second + 12, static_cast<uint8_t>(bytes[second]));
  CHECK(static_cast<uint8_t>(event[0]) == 0x09);
  CHECK(static_cast<uint8_t>(event[9]) == 0x10);
  CHECK(static_cast<uint8_t>(event[10]) == 10);
  CHECK(static_cast<uint8_t>(event[11]) == 0x2a);
  CHECK(event.substr(13, 2) == "\x0a\x11");  // Value of 17 bytes: 2 + 10 ("train/loss") + 5
  CHECK(event.substr(15, 12) == "\x0a\x0atrain/loss");
  CHECK(static_cast<uint8_t>(event[27]) == 0x15);

  std::string corrupted = bytes;
  corrupted[second + 12 + 5] ^= 0x01;  // a byte of the second record's data
  write_file_bytes(folder.file("corrupted"), corrupted);
  CHECK_THROWS_WITH_AS(read_tensorboard_events(folder.file("corrupted")),
                       (folder.file("corrupted") + ": record 1: data CRC mismatch").c_str(), Error);
  // The last Event: wall_time 9 bytes, step 7 (a 6-byte varint), summary 2 + Value 20 = 38.
  write_file_bytes(folder.file("cut"), bytes.substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH_AS(read_tensorboard_events(folder.file("cut")),
                       (folder.file("cut") + ": record 2: record of 38 bytes runs past the end of "
                                             "the file")
                           .c_str(),
                       Error);
}

TEST_CASE("the progress line: step/total, bar, loss, lr, tokens/s, ETA") {
  ProgressState s;
  s.step = 120;
  s.total_steps = 480;
  s.loss = 2.345678;
  s.lr = 3e-4;
  s.tokens_per_s = 1234.4;
  s.eta_s = 3723;
  CHECK(format_progress_line(s, 8) ==
        "step 120/480 [##------]  25% loss 2.3457 lr 3.00e-04 1234 tok/s ETA 1:02:03");
  CHECK(format_duration(65) == "1:05");
  CHECK(format_duration(-1) == "?");
  s.step = 480;
  s.eta_s = 0;
  CHECK(format_progress_line(s, 4) ==
        "step 480/480 [####] 100% loss 2.3457 lr 3.00e-04 1234 tok/s ETA 0:00");
}

TEST_CASE("SIGTERM and SIGINT under the guard become a stop request, not an exit") {
  struct sigaction before = {};
  sigaction(SIGTERM, nullptr, &before);
  {
    StopSignalGuard guard;
    CHECK(stop_requested() == 0);
    std::raise(SIGTERM);
    CHECK(stop_requested() == SIGTERM);  // still running
    clear_stop_request();
    std::raise(SIGINT);
    CHECK(stop_requested() == SIGINT);
    clear_stop_request();
  }
  struct sigaction after = {};
  sigaction(SIGTERM, nullptr, &after);
  const bool restored = after.sa_handler == before.sa_handler;
  CHECK(restored);  // the previous handler is back
}
