// --model_id resolution, in this order: a local folder; else a hub id ("google/flan-t5-base")
// found in the local Hugging Face cache (following refs/main to its snapshot, as
// huggingface_hub does); else a built-in architecture name (random init); else an error that
// says how to download the model. Nothing is fetched over the network.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace t5zero {

// The environment variables huggingface_hub reads to place its cache.
struct HubCacheEnvironment {
  std::optional<std::string> hf_hub_cache;           // HF_HUB_CACHE
  std::optional<std::string> huggingface_hub_cache;  // HUGGINGFACE_HUB_CACHE (legacy name)
  std::optional<std::string> hf_home;                // HF_HOME
  std::optional<std::string> xdg_cache_home;         // XDG_CACHE_HOME
  std::optional<std::string> home;                   // HOME

  static HubCacheEnvironment from_process();
};

// The hub cache folder as huggingface_hub's constants compute it: HF_HUB_CACHE, else
// HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub; a leading "~" is the home folder.
std::string hub_cache_folder(const HubCacheEnvironment& env);

// Whether `id` has the form huggingface_hub accepts for a repo id: "name" or "org/name" of
// letters, digits, '-', '_', '.', without "--" or "..", at most 96 characters.
bool is_hub_repo_id(const std::string& id);

// The commands that fetch `repo_id` into the cache (used in error messages).
std::string hub_download_hint(const std::string& repo_id);

enum class ModelSource { local_folder, hub_cache, builtin };

struct ResolvedModelId {
  ModelSource source = ModelSource::local_folder;
  std::string model_id;  // as given
  std::string folder;    // local_folder, hub_cache: the folder that holds config.json
  std::string revision;  // hub_cache: the snapshot's commit hash
};

// `builtin_names` are the built-in architectures (models/architectures.h; io cannot depend on
// models). A folder or cached snapshot must hold config.json. Errors name the model id and,
// when it is not found anywhere, say how to download it.
ResolvedModelId resolve_model_id(
    const std::string& model_id, const std::vector<std::string>& builtin_names,
    const HubCacheEnvironment& env = HubCacheEnvironment::from_process());

}  // namespace t5zero
