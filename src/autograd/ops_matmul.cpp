// Differentiable matrix product: forward and backward side by side.
//
// The backward closure captures the input Variables and reads .data() when it runs (a ZeRO-3
// weight is gathered again for backward; the graph must not keep the forward-time copy alive).
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

namespace {

// Sums a gradient computed at the broadcast batch shape back to the input's shape.
Tensor reduce_to(const Tensor& grad, const Shape& shape) {
  return grad.shape() == shape ? grad : ops::sum_to(grad, shape);
}

// C = op(a)·op(b) with op(x) = xᵀ when transposed: d op(a) = G·op(b)ᵀ, d op(b) = op(a)ᵀ·G.
// Each is rewritten as one matmul with transpose flags, so no transposed copy is made.
Tensor matmul_grad_a(const Tensor& g, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor grad = ta ? ops::matmul(b, g, tb, true)     // aᵀ's grad, transposed: op(b)·Gᵀ
                   : ops::matmul(g, b, false, !tb);  // G·op(b)ᵀ
  return reduce_to(grad, a.shape());
}

Tensor matmul_grad_b(const Tensor& g, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  // A weight b [K, N] shared by every batch of an untransposed a [..., M, K]: one GEMM over the
  // folded rows, aᵀ·G with a as [batch·M, K] and G as [batch·M, N], instead of a GEMM per batch
  // and a sum.
  if (b.dim() == 2 && a.dim() > 2 && !ta) {
    Tensor a_rows = a.reshape({-1, a.size(-1)});
    Tensor g_rows = g.reshape({-1, g.size(-1)});
    return tb ? ops::matmul(g_rows, a_rows, true, false) : ops::matmul(a_rows, g_rows, true, false);
  }
  Tensor grad = tb ? ops::matmul(g, a, true, ta)     // bᵀ's grad, transposed: Gᵀ·op(a)
                   : ops::matmul(a, g, !ta, false);  // op(a)ᵀ·G
  return reduce_to(grad, b.shape());
}

}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  return make_result(ops::matmul(a.data(), b.data(), transpose_a, transpose_b), {a, b}, "matmul",
                     [a, b, transpose_a, transpose_b](const Tensor& g) -> std::vector<Tensor> {
                       const Tensor& ta = a.data();
                       const Tensor& tb = b.data();
                       Tensor ga = a.requires_grad()
                                       ? matmul_grad_a(g, ta, tb, transpose_a, transpose_b)
                                       : Tensor();
                       Tensor gb = b.requires_grad()
                                       ? matmul_grad_b(g, ta, tb, transpose_a, transpose_b)
                                       : Tensor();
                       return {ga, gb};
                     });
}

}  // namespace t5zero::autograd
