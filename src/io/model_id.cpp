#include "io/model_id.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tensor/error.h"

namespace t5zero {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> environment_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string expand_user(const std::string& path, const HubCacheEnvironment& env) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
  T5_CHECK(env.home.has_value(), "Hugging Face cache path '", path,
           "' starts with ~ but HOME is not set");
  return *env.home + path.substr(1);
}

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// The snapshot a cached repo's "main" points to, as huggingface_hub's try_to_load_from_cache:
// refs/main holds a commit hash naming snapshots/<hash>. Without refs/main (a download pinned
// to a commit writes none) a single snapshot is unambiguous.
ResolvedModelId resolve_cached_repo(const std::string& model_id, const fs::path& repo_folder) {
  ResolvedModelId resolved;
  resolved.source = ModelSource::hub_cache;
  resolved.model_id = model_id;
  const fs::path snapshots = repo_folder / "snapshots";
  const fs::path ref = repo_folder / "refs" / "main";
  if (fs::is_regular_file(ref)) {
    resolved.revision = trim(read_text_file(ref));
    T5_CHECK(!resolved.revision.empty() && resolved.revision.find('/') == std::string::npos &&
                 resolved.revision != "." && resolved.revision != "..",
             "model_id '", model_id, "': ", ref.string(), " should hold a commit hash, found '",
             resolved.revision, "'");
    if (!fs::is_directory(snapshots / resolved.revision)) {
      fail("model_id '", model_id, "': ", ref.string(), " points to commit ", resolved.revision,
           " but ", (snapshots / resolved.revision).string(),
           " does not exist (an interrupted download?); fetch it again with\n",
           hub_download_hint(model_id));
    }
  } else {
    std::vector<std::string> revisions;
    if (fs::is_directory(snapshots)) {
      for (const fs::directory_entry& entry : fs::directory_iterator(snapshots)) {
        if (entry.is_directory()) revisions.push_back(entry.path().filename().string());
      }
    }
    std::sort(revisions.begin(), revisions.end());
    if (revisions.empty()) {
      fail("model_id '", model_id, "': the Hugging Face cache folder ", repo_folder.string(),
           " holds no snapshot (an interrupted download?); fetch it again with\n",
           hub_download_hint(model_id));
    }
    if (revisions.size() > 1) {
      fail("model_id '", model_id, "': ", repo_folder.string(),
           " has no refs/main and several snapshots (", join_names(revisions),
           "); pass the snapshot folder you want as --model_id");
    }
    resolved.revision = revisions[0];
  }
  resolved.folder = (snapshots / resolved.revision).string();
  if (!fs::exists(fs::path(resolved.folder) / "config.json")) {
    fail("model_id '", model_id, "': the cached snapshot ", resolved.folder,
         " has no config.json (an incomplete download?); fetch it again with\n",
         hub_download_hint(model_id));
  }
  return resolved;
}

}  // namespace

HubCacheEnvironment HubCacheEnvironment::from_process() {
  HubCacheEnvironment env;
  env.hf_hub_cache = environment_variable("HF_HUB_CACHE");
  env.huggingface_hub_cache = environment_variable("HUGGINGFACE_HUB_CACHE");
  env.hf_home = environment_variable("HF_HOME");
  env.xdg_cache_home = environment_variable("XDG_CACHE_HOME");
  env.home = environment_variable("HOME");
  return env;
}

std::string hub_cache_folder(const HubCacheEnvironment& env) {
  if (env.hf_hub_cache) return expand_user(*env.hf_hub_cache, env);
  if (env.huggingface_hub_cache) return expand_user(*env.huggingface_hub_cache, env);
  std::string hf_home;
  if (env.hf_home) {
    hf_home = *env.hf_home;
  } else if (env.xdg_cache_home) {
    hf_home = (fs::path(*env.xdg_cache_home) / "huggingface").string();
  } else {
    hf_home = "~/.cache/huggingface";
  }
  return (fs::path(expand_user(hf_home, env)) / "hub").string();
}

bool is_hub_repo_id(const std::string& id) {
  if (id.empty() || id.size() > 96) return false;
  if (id.find("--") != std::string::npos || id.find("..") != std::string::npos) return false;
  const size_t slash = id.find('/');
  if (slash != std::string::npos && id.find('/', slash + 1) != std::string::npos) return false;
  const auto valid_part = [](const std::string& part) {
    if (part.empty()) return false;
    const auto allowed = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    };
    // huggingface_hub's \b anchors: a part starts and ends with a word character.
    const auto word = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    };
    return std::all_of(part.begin(), part.end(), allowed) && word(part.front()) &&
           word(part.back());
  };
  if (slash == std::string::npos) return valid_part(id);
  return valid_part(id.substr(0, slash)) && valid_part(id.substr(slash + 1));
}

std::string hub_download_hint(const std::string& repo_id) {
  return "  huggingface-cli download " + repo_id +
         "\nor\n  python -c \"from huggingface_hub import snapshot_download; "
         "snapshot_download('" +
         repo_id + "')\"";
}

ResolvedModelId resolve_model_id(const std::string& model_id,
                                 const std::vector<std::string>& builtin_names,
                                 const HubCacheEnvironment& env) {
  T5_CHECK(!model_id.empty(), "model_id: expected a folder, a hub id or a built-in name, got ''");
  if (fs::is_directory(model_id)) {
    if (!fs::exists(fs::path(model_id) / "config.json")) {
      fail("model_id '", model_id,
           "' is a folder without config.json (expected a Hugging Face model folder: "
           "config.json, model.safetensors, tokenizer files)");
    }
    return ResolvedModelId{ModelSource::local_folder, model_id, model_id, ""};
  }
  std::string cache_note;
  if (is_hub_repo_id(model_id)) {
    const std::string cache = hub_cache_folder(env);
    // huggingface_hub's repo_folder_name: "models--" + the id with "/" written as "--".
    std::string repo_folder_name = "models--" + model_id;
    const size_t slash = repo_folder_name.find('/');
    if (slash != std::string::npos) repo_folder_name.replace(slash, 1, "--");
    const fs::path repo_folder = fs::path(cache) / repo_folder_name;
    if (fs::is_directory(repo_folder)) return resolve_cached_repo(model_id, repo_folder);
    cache_note = "not in the Hugging Face cache (looked for " + repo_folder.string() + "), ";
  }
  if (std::find(builtin_names.begin(), builtin_names.end(), model_id) != builtin_names.end()) {
    return ResolvedModelId{ModelSource::builtin, model_id, "", ""};
  }
  std::ostringstream message;
  message << "model_id '" << model_id << "' is not a local folder, " << cache_note
          << "and not a built-in architecture (" << join_names(builtin_names) << ").";
  if (is_hub_repo_id(model_id)) {
    message << "\nDownload it into the cache with\n"
            << hub_download_hint(model_id)
            << "\n(HF_HOME or HF_HUB_CACHE choose another cache folder), or pass a local folder "
               "holding config.json and model.safetensors.";
  } else {
    message << "\nPass a local folder holding config.json and model.safetensors, or a hub id "
               "such as google/flan-t5-base downloaded with\n"
            << hub_download_hint("google/flan-t5-base");
  }
  fail(message.str());
}

}  // namespace t5zero
