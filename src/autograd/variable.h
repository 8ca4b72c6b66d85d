// Variable: a tensor that remembers how it was made, so gradients can flow back through it.
//
// A Variable holds its data, its gradient (leaves only) and the Node that produced it. A Node
// holds the Variables it consumed and a backward function that maps the gradient of its output to
// gradients of its inputs; tensors the backward needs are captured by that function and released
// as soon as it has run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero::autograd {

struct Node;

struct VariableState {
  Tensor data;
  // Fixed for the Variable's life, even while `data` is swapped out: a ZeRO-3 parameter keeps
  // its shape when its storage is released, so gradients reaching it are still checked.
  Shape shape;
  Tensor grad;  // accumulated here for leaves that require grad
  std::shared_ptr<Node> grad_fn;
  bool requires_grad = false;
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return state_ != nullptr; }
  const Tensor& data() const { return state_->data; }
  const Tensor& grad() const { return state_->grad; }
  void set_grad(Tensor grad) { state_->grad = std::move(grad); }
  void zero_grad() { state_->grad = Tensor(); }
  bool requires_grad() const { return state_ && state_->requires_grad; }
  bool is_leaf() const { return state_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return state_->grad_fn; }
  const Shape& shape() const { return state_->shape; }
  DType dtype() const { return state_->data.dtype(); }
  // A new leaf sharing this data, cut off from the graph.
  Variable detach() const { return Variable(state_->data, false); }

  // Backpropagates from this variable. A non-scalar needs an explicit output gradient.
  void backward(const Tensor& grad_output = Tensor()) const;

  VariableState* state() const { return state_.get(); }

 private:
  friend Variable make_result(Tensor, std::vector<Variable>, const char*,
                              std::function<std::vector<Tensor>(const Tensor&)>);
  std::shared_ptr<VariableState> state_;
};

// Maps the gradient of a node's output to the gradients of its inputs (one per input, in order;
// an undefined Tensor where an input gets no gradient).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;
  std::vector<Variable> inputs;
  BackwardFn backward;
};

// Wraps an op's output: records a Node when grad mode is on and some input requires grad,
// otherwise returns a plain Variable. Every differentiable op ends with this.
Variable make_result(Tensor output, std::vector<Variable> inputs, const char* name,
                     BackwardFn backward);

// Grad mode: while off, ops record nothing (inference, optimizer updates, recomputation setup).
bool grad_enabled();

class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// No gradients recorded in this scope.
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace t5zero::autograd
