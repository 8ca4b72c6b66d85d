// The backward engine: order the graph topologically, then run each node once, last first.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autograd/op_profile.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

namespace {
thread_local bool g_grad_enabled = true;

// Adds g into an accumulator slot; the first gradient is stored as is.
void accumulate(Tensor& slot, const Tensor& g) {
  OpTimer timer("accumulate_grad");
  slot = slot.defined() ? ops::add(slot, g) : g;
}

// Whether g is the only view of all of its storage: then nothing else can see it change.
bool sole_owner(const Tensor& g) {
  return g.storage().use_count() == 1 && g.is_contiguous() && g.offset() == 0 &&
         static_cast<size_t>(g.numel()) * dtype_size(g.dtype()) == g.storage()->nbytes();
}

// A leaf's gradient is a contiguous tensor of its own: backward formulas hand one tensor to
// several inputs (add passes g to both), and an optimizer that scales one gradient in place must
// not scale another, nor the caller's seed. A gradient no one else holds (a weight's, fresh
// from its matmul) is taken as it is, without the copy.
void accumulate_leaf(Tensor& slot, const Tensor& g) {
  OpTimer timer("accumulate_grad");
  slot = slot.defined() ? ops::add(slot, g) : (sole_owner(g) ? g : g.clone());
}

// Nodes reachable from root, each after every node that consumes its output. Owning pointers:
// running a node drops its inputs, which must not free nodes still waiting to run.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  // Iterative DFS: T5 graphs are deep enough (hundreds of ops per block) to worry a recursion.
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      std::shared_ptr<Node> child = node->inputs[next_input++].grad_fn();
      if (child && visited.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());  // root first
  return order;
}
}  // namespace

bool grad_enabled() {
  return g_grad_enabled;
}

GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) {
  g_grad_enabled = enabled;
}
GradModeGuard::~GradModeGuard() {
  g_grad_enabled = previous_;
}

Variable::Variable(Tensor data, bool requires_grad) : state_(std::make_shared<VariableState>()) {
  T5_CHECK(!requires_grad || is_floating(data.dtype()),
           "only floating tensors can require grad, got ", dtype_name(data.dtype()));
  state_->shape = data.shape();
  state_->data = std::move(data);
  state_->requires_grad = requires_grad;
}

Variable make_result(Tensor output, std::vector<Variable> inputs, const char* name,
                     BackwardFn backward) {
  profile_forward_op(name);
  bool needs_grad = false;
  if (grad_enabled()) {
    for (const Variable& v : inputs) needs_grad = needs_grad || v.requires_grad();
  }
  Variable result(std::move(output));
  if (!needs_grad) return result;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  result.state_->grad_fn = std::move(node);
  result.state_->requires_grad = true;
  return result;
}

void Variable::backward(const Tensor& grad_output) const {
  T5_CHECK(requires_grad(), "backward() on a variable that does not require grad");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    T5_CHECK(data().numel() == 1, "backward() of a non-scalar of shape ", shape_str(shape()),
             " needs an explicit output gradient");
    seed = Tensor::ones(data().shape(), data().dtype());
  }
  T5_CHECK(seed.shape() == data().shape(), "backward(): gradient of shape ",
           shape_str(seed.shape()), " for a variable of shape ", shape_str(data().shape()));
  // A seed made on the host (the usual 1, a loss scale) joins the output on its device.
  seed = seed.to(data().device());
  if (is_leaf()) {
    accumulate_leaf(state_->grad, seed);
    return;
  }
  // Gradients are not recorded while running backward formulas (no double-backward).
  GradModeGuard no_grad(false);
  std::unordered_map<Node*, Tensor> pending;
  pending[grad_fn().get()] = seed;
  for (const std::shared_ptr<Node>& node : topological_order(grad_fn())) {
    auto it = pending.find(node.get());
    if (it == pending.end()) continue;  // nothing flowed into this branch
    Tensor grad_out = std::move(it->second);
    pending.erase(it);
    T5_CHECK(node->backward, "backward through ", node->name,
             " a second time: its saved tensors were released after the first backward");
    std::vector<Tensor> grads;
    {
      OpTimer timer(node->name);
      grads = node->backward(grad_out);
    }
    T5_CHECK(grads.size() == node->inputs.size(), node->name, " backward returned ", grads.size(),
             " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Variable& input = node->inputs[i];
      if (!input.requires_grad() || !grads[i].defined()) continue;
      T5_CHECK(grads[i].shape() == input.shape(), node->name, " backward: gradient ", i,
               " has shape ", shape_str(grads[i].shape()), ", input has ",
               shape_str(input.shape()));
      if (input.is_leaf()) {
        accumulate_leaf(input.state()->grad, grads[i]);
      } else {
        accumulate(pending[input.grad_fn().get()], grads[i]);
      }
    }
    // Free saved tensors and the graph below this node as soon as it is done.
    node->backward = nullptr;
    node->inputs.clear();
  }
}

}  // namespace t5zero::autograd
