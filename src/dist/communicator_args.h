// The argument checks every Communicator makes, so each implementation refuses bad input with the
// same message. Sizes are per rank: the `n` of communicator.h.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace t5zero::dist {

// Checks all_gather's tensors for a world of `world_size`; returns n = local.numel().
int64_t check_all_gather_args(const Tensor& local, const Tensor& out, int world_size);
// True when `local` is exactly rank `rank`'s slot of `out` (an in-place gather: nothing to send
// or copy locally); fails when the two overlap any other way.
bool all_gather_is_in_place(const Tensor& local, const Tensor& out, int rank);
// Checks reduce_scatter_sum's tensors; returns n = in.numel() / world_size.
int64_t check_reduce_scatter_args(const Tensor& in, const Tensor& out, int world_size);
void check_broadcast_root(int root, int world_size);
// reduce_scatter_sum's accumulation dtype for `in`'s dtype: f64 for f64, f32 otherwise.
DType reduce_scatter_out_dtype(DType in);

}  // namespace t5zero::dist
