// The local half of reduce_scatter_sum: once every rank's chunk for this rank has arrived, they
// are summed here in rank order, so the bits do not depend on how MPI moved them.
#pragma once

#include "tensor/tensor.h"

namespace t5zero::dist {

// `chunks`: host, contiguous, ranks·n elements (f32, bf16 or f64), chunk q = what rank q sent.
// `out`: host, contiguous, n elements of reduce_scatter_out_dtype(chunks.dtype()).
// out[i] = ((chunk 0[i] + chunk 1[i]) + chunk 2[i]) + ..., each term widened to out's dtype.
void sum_chunks_in_rank_order(const Tensor& chunks, int ranks, Tensor& out);

}  // namespace t5zero::dist
