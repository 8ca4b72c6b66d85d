// t5zero grads: the loss and every parameter's gradient for one batch, dropout off, written to a
// safetensors file under Hugging Face names (f32) — for numerics checks against transformers
// (tools/reference/check_grads.py) and for research.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "io/model_id.h"
#include "io/safetensors_writer.h"
#include "io/t5_config.h"
#include "models/parameter_store.h"
#include "models/t5_batch.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_model.h"

namespace t5zero::cli {

int run_grads(int argc, char** argv) {
  FlagSet flags("grads",
                "Write the loss and every parameter's gradient (f32, Hugging Face names) for one "
                "batch, dropout off.");
  flags.add_required("model_id",
                     "Hugging Face model folder, or hub id in the local cache (config.json + "
                     "safetensors weights)");
  flags.add_required("batch",
                     "JSON {\"input_ids\": [[...]], \"attention_mask\": [[...]], \"labels\": "
                     "[[...]]}; labels may hold -100");
  flags.add_required("out", "output .safetensors: \"loss\" [1] and one tensor per parameter");
  flags.add_bool("gradient_checkpointing", false, "recompute each block in backward");
  if (!flags.parse(argc, argv, 2)) return 0;

  // A folder or a hub id in the local cache; built-in architectures have no weights to load.
  const std::string folder = resolve_model_id(flags.get_string("model_id"), {}).folder;
  const T5Config config = parse_t5_config(folder + "/config.json");
  models::ParameterStore store(DType::f32);
  models::T5ForConditionalGeneration model(config, store);
  const models::WeightsLoadReport report = models::load_t5_weights(folder, model);
  for (const std::string& name : report.unexpected) {
    std::fprintf(stderr, "t5zero grads: note: %s: tensor '%s' is not a parameter; ignored\n",
                 folder.c_str(), name.c_str());
  }

  const models::T5Batch batch = models::read_t5_batch_json(flags.get_string("batch"));
  models::ForwardOptions options;
  options.gradient_checkpointing = flags.get_bool("gradient_checkpointing");
  const models::T5Output out =
      model.forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels, options);
  out.loss.backward();

  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("loss", out.loss.data().to(DType::f32).reshape({1}));
  for (models::ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    const Tensor& grad = store.variable(id).grad();
    // A parameter no gradient reached (every label ignored, say) has gradient zero.
    tensors.emplace_back(
        spec.name, grad.defined() ? grad.to(DType::f32) : Tensor::zeros(spec.shape, DType::f32));
  }
  save_safetensors(flags.get_string("out"), tensors);
  std::printf("loss %.9g; %lld parameter gradients written to %s\n", out.loss.data().item(),
              static_cast<long long>(store.size()), flags.get_string("out").c_str());
  return 0;
}

}  // namespace t5zero::cli
