// --model_id resolution against a fake Hugging Face cache: refs/main → snapshots/<rev>,
// HF_HOME / HF_HUB_CACHE / XDG_CACHE_HOME / HOME as huggingface_hub reads them, local folders
// first, built-in names last, and errors that say how to download.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "io/model_id.h"
#include "models/architectures.h"
#include "temp_folder.h"
#include "tensor/error.h"

using namespace t5zero;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kBuiltins = {"flan-t5-small", "t5-tiny"};
const std::string kRevision = "0fc9ddf78a1e988dac52e2dac162b0ede4fd74ab";

// A cache entry as huggingface_hub lays it out: models--ORG--NAME/{refs/main, snapshots/<rev>/}.
fs::path make_cached_repo(const fs::path& hub, const std::string& folder_name,
                          const std::string& revision, const std::string& ref_text,
                          bool with_config = true) {
  const fs::path repo = hub / folder_name;
  fs::create_directories(repo / "snapshots" / revision);
  if (!ref_text.empty()) {
    fs::create_directories(repo / "refs");
    write_file_bytes((repo / "refs" / "main").string(), ref_text);
  }
  if (with_config) {
    write_file_bytes((repo / "snapshots" / revision / "config.json").string(),
                     R"({"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2})");
  }
  return repo / "snapshots" / revision;
}

HubCacheEnvironment env_with_home(const fs::path& hf_home) {
  HubCacheEnvironment env;
  env.hf_home = hf_home.string();
  env.home = "/nonexistent-home";
  return env;
}

std::string resolve_error(const std::string& model_id, const HubCacheEnvironment& env) {
  try {
    resolve_model_id(model_id, kBuiltins, env);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the cache folder follows huggingface_hub's variables") {
  HubCacheEnvironment env;
  env.home = "/home/u";
  CHECK(hub_cache_folder(env) == "/home/u/.cache/huggingface/hub");
  env.xdg_cache_home = "/xdg";
  CHECK(hub_cache_folder(env) == "/xdg/huggingface/hub");
  env.hf_home = "~/hf";
  CHECK(hub_cache_folder(env) == "/home/u/hf/hub");
  env.huggingface_hub_cache = "/legacy";
  CHECK(hub_cache_folder(env) == "/legacy");
  env.hf_hub_cache = "/fast/hub";  // HF_HUB_CACHE overrides everything
  CHECK(hub_cache_folder(env) == "/fast/hub");
  env.hf_hub_cache = "~";
  CHECK(hub_cache_folder(env) == "/home/u");
  HubCacheEnvironment homeless;
  CHECK_THROWS_WITH_AS(hub_cache_folder(homeless), doctest::Contains("HOME is not set"), Error);
}

TEST_CASE("the process environment is read") {
  TempFolder folder("model_id_env");
  const char* saved_hf_home = std::getenv("HF_HOME");
  const char* saved_hub_cache = std::getenv("HF_HUB_CACHE");
  const std::string old_hf_home = saved_hf_home ? saved_hf_home : "";
  const std::string old_hub_cache = saved_hub_cache ? saved_hub_cache : "";
  ::setenv("HF_HOME", (folder.path / "home").c_str(), 1);
  ::unsetenv("HF_HUB_CACHE");
  CHECK(hub_cache_folder(HubCacheEnvironment::from_process()) ==
        (folder.path / "home" / "hub").string());
  make_cached_repo(folder.path / "elsewhere", "models--google--flan-t5-base", kRevision, kRevision);
  ::setenv("HF_HUB_CACHE", (folder.path / "elsewhere").c_str(), 1);
  const ResolvedModelId id = resolve_model_id("google/flan-t5-base", kBuiltins);
  CHECK(id.source == ModelSource::hub_cache);
  CHECK(id.folder ==
        (folder.path / "elsewhere" / "models--google--flan-t5-base" / "snapshots" / kRevision)
            .string());
  if (saved_hf_home)
    ::setenv("HF_HOME", old_hf_home.c_str(), 1);
  else
    ::unsetenv("HF_HOME");
  if (saved_hub_cache)
    ::setenv("HF_HUB_CACHE", old_hub_cache.c_str(), 1);
  else
    ::unsetenv("HF_HUB_CACHE");
}

TEST_CASE("a hub id resolves to the snapshot refs/main names") {
  TempFolder folder("model_id_cache");
  const fs::path hub = folder.path / "hub";
  make_cached_repo(hub, "models--google--flan-t5-base", "1111111111111111111111111111111111111111",
                   "");
  const fs::path snapshot =
      make_cached_repo(hub, "models--google--flan-t5-base", kRevision, kRevision + "\n");
  const ResolvedModelId id =
      resolve_model_id("google/flan-t5-base", kBuiltins, env_with_home(folder.path));
  CHECK(id.source == ModelSource::hub_cache);
  CHECK(id.model_id == "google/flan-t5-base");
  CHECK(id.revision == kRevision);
  CHECK(id.folder == snapshot.string());

  // Without refs/main (a download pinned to a commit), a single snapshot is used...
  const fs::path only = make_cached_repo(hub, "models--t5-small", "abc123", "");
  const ResolvedModelId legacy =
      resolve_model_id("t5-small", kBuiltins, env_with_home(folder.path));
  CHECK(legacy.folder == only.string());
  CHECK(legacy.revision == "abc123");
  // ... several are ambiguous.
  make_cached_repo(hub, "models--t5-small", "def456", "");
  const std::string e = resolve_error("t5-small", env_with_home(folder.path));
  CHECK(contains(
      e, "has no refs/main and several snapshots (abc123, def456); pass the snapshot folder"));
}

TEST_CASE("broken cache entries are errors that say how to fetch again") {
  TempFolder folder("model_id_broken");
  const fs::path hub = folder.path / "hub";
  const HubCacheEnvironment env = env_with_home(folder.path);
  fs::create_directories(hub / "models--google--flan-t5-xl" / "refs");
  write_file_bytes((hub / "models--google--flan-t5-xl" / "refs" / "main").string(), "deadbeef");
  std::string e = resolve_error("google/flan-t5-xl", env);
  CHECK(contains(e, "points to commit deadbeef"));
  CHECK(contains(e, "huggingface-cli download google/flan-t5-xl"));

  make_cached_repo(hub, "models--google--flan-t5-large", kRevision, kRevision,
                   /*with_config=*/false);
  e = resolve_error("google/flan-t5-large", env);
  CHECK(contains(e, "has no config.json (an incomplete download?)"));
  CHECK(contains(e, "snapshot_download('google/flan-t5-large')"));

  fs::create_directories(hub / "models--google--flan-t5-xxl");
  CHECK(contains(resolve_error("google/flan-t5-xxl", env), "holds no snapshot"));

  fs::create_directories(hub / "models--org--evil" / "refs");
  write_file_bytes((hub / "models--org--evil" / "refs" / "main").string(), "../../etc");
  CHECK(contains(resolve_error("org/evil", env), "should hold a commit hash, found '../../etc'"));
}

TEST_CASE("a local folder wins; built-in names come after the cache") {
  TempFolder folder("model_id_order");
  const fs::path hub = folder.path / "hub";
  const HubCacheEnvironment env = env_with_home(folder.path);
  // A folder named like a hub id, relative to the working directory, wins over the cache.
  make_cached_repo(hub, "models--google--flan-t5-base", kRevision, kRevision);
  fs::create_directories(folder.path / "work" / "google" / "flan-t5-base");
  write_file_bytes((folder.path / "work" / "google" / "flan-t5-base" / "config.json").string(),
                   "{}");
  const fs::path cwd = fs::current_path();
  fs::current_path(folder.path / "work");
  const ResolvedModelId local = resolve_model_id("google/flan-t5-base", kBuiltins, env);
  fs::current_path(cwd);
  CHECK(local.source == ModelSource::local_folder);
  CHECK(local.folder == "google/flan-t5-base");

  const ResolvedModelId builtin = resolve_model_id("flan-t5-small", kBuiltins, env);
  CHECK(builtin.source == ModelSource::builtin);
  CHECK(builtin.folder.empty());
  // A cached repo of the same name is found first.
  make_cached_repo(hub, "models--flan-t5-small", kRevision, kRevision);
  CHECK(resolve_model_id("flan-t5-small", kBuiltins, env).source == ModelSource::hub_cache);

  fs::create_directories(folder.path / "empty_model");
  CHECK(contains(resolve_error((folder.path / "empty_model").string(), env),
                 "is a folder without config.json"));
}

TEST_CASE("an unknown model id says how to download it") {
  TempFolder folder("model_id_missing");
  const std::string e = resolve_error("google/flan-t5-base", env_with_home(folder.path));
  CHECK(contains(e,
                 "model_id 'google/flan-t5-base' is not a local folder, not in the Hugging Face "
                 "cache (looked for " +
                     (folder.path / "hub" / "models--google--flan-t5-base").string() +
                     "), and not a built-in architecture (flan-t5-small, t5-tiny)."));
  CHECK(contains(e, "huggingface-cli download google/flan-t5-base"));
  CHECK(contains(e,
                 "python -c \"from huggingface_hub import snapshot_download; "
                 "snapshot_download('google/flan-t5-base')\""));
  CHECK(contains(e, "HF_HOME or HF_HUB_CACHE"));
  const std::string path_error = resolve_error("/no/such/model", env_with_home(folder.path));
  CHECK(
      contains(path_error, "model_id '/no/such/model' is not a local folder, and not a built-in"));
  CHECK(contains(path_error, "huggingface-cli download google/flan-t5-base"));
  CHECK_THROWS_AS(resolve_model_id("", kBuiltins, env_with_home(folder.path)), Error);
}

TEST_CASE("hub repo id syntax as huggingface_hub validates it") {
  for (const char* ok : {"google/flan-t5-base", "t5-small", "a", "org_1/model.v2", "x/y-z_w.1"}) {
    CAPTURE(ok);
    CHECK(is_hub_repo_id(ok));
  }
  for (const char* bad : {"", "a/b/c", "/abs", "org/", "a--b", "a..b", "-lead", "trail-", "sp ace",
                          "org/.hidden", "./local"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_hub_repo_id(bad));
  }
  CHECK_FALSE(is_hub_repo_id(std::string(97, 'a')));
}

TEST_CASE("resolve_model returns the config of folders and built-ins") {
  TempFolder folder("model_id_config");
  const HubCacheEnvironment env = env_with_home(folder.path);
  const models::ResolvedModel builtin = models::resolve_model("t5-micro", env);
  CHECK(builtin.id.source == ModelSource::builtin);
  CHECK(builtin.config.vocab_size == 256);
  make_cached_repo(folder.path / "hub", "models--google--flan-t5-base", kRevision, kRevision);
  const models::ResolvedModel cached = models::resolve_model("google/flan-t5-base", env);
  CHECK(cached.id.source == ModelSource::hub_cache);
  CHECK(cached.config.d_model == 32);
  CHECK(cached.config.num_heads == 2);
}
