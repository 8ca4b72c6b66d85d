// The ZeRO-3 parameter store in one process: the partition layout (with a communicator that
// plays one rank of a larger world), gathers and releases around module scopes, and gradients
// delivered through reduce-scatter equal the one-process store's.
#include <doctest/doctest.h>

#include <cmath>

#include "dist/communicator.h"
#include "dist/zero_parameter_store.h"
#include "models/architectures.h"
#include "models/parameter_scope.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "tensor/ops.h"
#include "train/mixed_precision.h"

using namespace t5zero;
using models::ParamId;

namespace {

// Rank `rank` of a world of `world` whose other ranks hold `other_value` in every element and
// send gradients of all ones.
class PretendWorld : public dist::Communicator {
 public:
  PretendWorld(int rank, int world, float other_value)
      : rank_(rank), world_(world), other_(other_value) {}
  int rank() const override { return rank_; }
  int size() const override { return world_; }
  void all_gather(const Tensor& local, Tensor& out) override {
    const int64_t n = local.numel();
    for (int r = 0; r < world_; ++r) {
      Tensor slot = out.narrow(0, r * n, n);
      if (r == rank_) {
        slot.copy_(local);
      } else {
        slot.fill_(other_);
      }
    }
    ++stats_.all_gather_calls;
  }
  void reduce_scatter_sum(const Tensor& in, Tensor& out) override {
    const int64_t n = out.numel();
    // Own chunk plus (world - 1) ranks' chunks of ones.
    out.copy_(ops::add_scalar(in.narrow(0, rank_ * n, n).to(DType::f32), world_ - 1.0));
    ++stats_.reduce_scatter_calls;
  }
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::string&, int) override {}
  void barrier() override {}

 private:
  int rank_, world_;
  float other_;
};

std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

}  // namespace

TEST_CASE("partition layout: ceil(numel / W) elements per rank, the last one padded") {
  for (int rank = 0; rank < 3; ++rank) {
    CAPTURE(rank);
    PretendWorld world(rank, 3, -1.0f);
    dist::ZeroParameterStore store(DType::f32, Device::cpu(), world, dist::ZeroOptions{3, 4});
    const ParamId big = store.add("big", {2, 5}, models::InitRecipe::constant(0));  // 10 elements
    const ParamId small = store.add("small", {4}, models::InitRecipe::constant(0));
    CHECK(store.shard_size(big) == 4);
    CHECK(store.local_offset(big) == 4 * rank);
    CHECK(store.local_numel(big) == (rank == 2 ? 2 : 4));  // 10 = 4 + 4 + 2
    CHECK(!store.persistent(big));
    CHECK(store.persistent(small));
    // Released parameters hold nothing; persistent ones are whole.
    CHECK(store.variable(big).data().numel() == 0);
    CHECK(store.variable(small).data().numel() == 4);

    store.assign(big, Tensor::from_vector(iota(10), {2, 5}));
    const std::vector<float> local = store.local_part(big).to_vector<float>();
    for (size_t i = 0; i < local.size(); ++i) {
      CHECK(local[i] == static_cast<float>(4 * rank + static_cast<int>(i)));
    }

    // A scope gathers: this rank's elements in its slot, the others' from the world.
    {
      models::ParameterScope scope(store, {big});
      const std::vector<float> full = scope[big].data().to_vector<float>();
      REQUIRE(full.size() == 10);
      for (int64_t i = 0; i < 10; ++i) {
        const bool mine = i >= 4 * rank && i < 4 * rank + 4;
        CHECK(full[static_cast<size_t>(i)] == (mine ? static_cast<float>(i) : -1.0f));
      }
      CHECK(store.gathered_bytes() == 40);
      // Nested scopes gather once.
      models::ParameterScope inner(store, {big});
      CHECK(world.stats().all_gather_calls == 1);
    }
    CHECK(store.variable(big).data().numel() == 0);
    CHECK(store.gathered_bytes() == 0);
    CHECK(store.peak_gathered_bytes() == 40);
  }
}

TEST_CASE("gradients: each rank receives the sum of its own chunk over the ranks") {
  PretendWorld world(1, 2, 0.0f);
  dist::ZeroParameterStore store(DType::f32, Device::cpu(), world, dist::ZeroOptions{3, 0});
  const ParamId w = store.add("w", {5}, models::InitRecipe::constant(0));
  std::vector<std::pair<int32_t, std::vector<float>>> received;
  store.set_gradient_sink(
      [&](ParamId id, const Tensor& g) { received.emplace_back(id.index, g.to_vector<float>()); });
  models::ParameterStore& base = store;
  const_cast<autograd::Variable&>(base.variable(w))
      .set_grad(
          Tensor::from_vector(iota(5), {5}));  // [0 1 2 3 4]: rank 1 owns elements 3 and 4 (s = 3)
  store.flush_gradients();
  REQUIRE(received.size() == 1);
  CHECK(received[0].second == std::vector<float>{3.0f + 1.0f, 4.0f + 1.0f});
  CHECK(!store.variable(w).grad().defined());
  store.flush_gradients();  // nothing left
  CHECK(received.size() == 1);
}

TEST_CASE("one rank of ZeRO-3 computes the one-process store's loss and gradients") {
  T5Config config = models::builtin_architecture("t5-micro");
  config.dropout_rate = 0.0;
  std::unique_ptr<dist::Communicator> one = dist::make_single_process_communicator();
  models::ParameterStore plain_store(DType::f32);
  dist::ZeroParameterStore zero_store(DType::f32, Device::cpu(), *one,
                                      dist::ZeroOptions{3, 10 * config.d_model});
  models::T5ForConditionalGeneration plain(config, plain_store);
  models::T5ForConditionalGeneration zero(config, zero_store);
  models::initialize_parameters(plain_store, 3);
  models::initialize_parameters(zero_store, 3);
  MasterParameters plain_masters(plain_store, Precision::fp32);
  MasterParameters zero_masters(zero_store, Precision::fp32);

  const Tensor input = Tensor::from_vector<int64_t>({5, 9, 13, 1, 7, 3, 1, 0}, {2, 4});
  const Tensor mask = Tensor::from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4});
  const Tensor labels = Tensor::from_vector<int64_t>({4, 8, 1, 6, 1, -100}, {2, 3});
  for (const bool checkpointing : {false, true}) {
    CAPTURE(checkpointing);
    models::ForwardOptions options;
    options.training = true;
    options.gradient_checkpointing = checkpointing;
    const models::T5Output a = plain.forward(input, mask, Tensor(), labels, options);
    const models::T5Output b = zero.forward(input, mask, Tensor(), labels, options);
    CHECK(a.loss.data().item() == doctest::Approx(b.loss.data().item()).epsilon(1e-6));
    // After the forward only the persistent parameters are gathered.
    int64_t persistent_bytes = 0;
    for (ParamId id : zero_store.ids()) {
      if (zero_store.persistent(id)) persistent_bytes += zero_store.local_numel(id) * 4;
    }
    CHECK(zero_store.gathered_bytes() == 0);
    a.loss.backward();
    b.loss.backward();
    CHECK(zero_store.gathered_bytes() == 0);  // the backward released everything it gathered
    CHECK(zero_store.peak_gathered_bytes() > 0);
    CHECK(zero_store.peak_gathered_bytes() < zero_store.numel() * 4 - persistent_bytes);
    plain_masters.accumulate_gradients();
    zero_masters.accumulate_gradients();
    double worst = 0;
    for (ParamId id : plain_store.ids()) {
      const std::vector<float> x = plain_masters.gradient_tensor(id).to_vector<float>();
      const std::vector<float> y = zero_masters.gradient_tensor(id).to_vector<float>();
      REQUIRE(x.size() == y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        worst = std::max(worst, std::abs(static_cast<double>(x[i]) - y[i]) /
                                    std::max(1e-3, std::abs(static_cast<double>(x[i]))));
      }
    }
    MESSAGE("largest relative gradient difference ", worst);
    CHECK(worst < 1e-5);
    plain_masters.zero_gradients();
    zero_masters.zero_gradients();
  }
}
