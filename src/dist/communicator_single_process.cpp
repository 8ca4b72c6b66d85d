// The world of one process: every collective is a copy (or nothing), and sends no bytes.
#include "dist/communicator.h"
#include "dist/communicator_args.h"

namespace t5zero::dist {

namespace {

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }

  void all_gather(const Tensor& local, Tensor& out) override {
    const int64_t n = check_all_gather_args(local, out, 1);
    if (n > 0 && !all_gather_is_in_place(local, out, 0)) out.view({n}).copy_(local.view({n}));
    ++stats_.all_gather_calls;
  }

  // The sum over one rank is its own chunk, widened to out's dtype.
  void reduce_scatter_sum(const Tensor& in, Tensor& out) override {
    const int64_t n = check_reduce_scatter_args(in, out, 1);
    if (n > 0) out.view({n}).copy_(in.view({n}));
    ++stats_.reduce_scatter_calls;
  }

  void all_reduce_sum(std::span<double>) override { ++stats_.all_reduce_calls; }

  void broadcast(std::string&, int root) override {
    check_broadcast_root(root, 1);
    ++stats_.broadcast_calls;
  }

  void barrier() override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace t5zero::dist
