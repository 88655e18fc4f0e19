// The image life-cycle subcommands: import, pull, save, load, images, inspect, history, tag,
// rmi, prune. Each opens the store (oci::Store) and calls into oci/ (and snapshot/ for the
// layer of `import` and the unpacked layers `prune` removes); failures are mkimg::Error,
// printed by main.cpp. Data goes to stdout, progress to stderr.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <system_error>

#include "builder/copy/recall.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/temp_dir.h"
#include "oci/archive.h"
#include "oci/media_types.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "snapshot/apply.h"
#include "snapshot/layer_store.h"
#include "snapshot/layer_writer.h"

namespace mkimg::cli {
namespace {

namespace fs = std::filesystem;

/// Everything the image subcommands read from the command line.
struct ImageCli {
  std::string source, name, output, input, format, compression = "gzip", platform;
  bool all_platforms = false;  ///< pull --all-platforms
  std::vector<std::string> names;
  bool quiet = false, json = false;
};

std::function<void(std::string_view)> progress(const ImageCli& cli) {
  if (cli.quiet) return {};
  return [](std::string_view line) { std::cerr << line << "\n"; };
}

oci::Descriptor resolve_or_throw(const oci::Store& store, std::string_view verb,
                                 const std::string& name) {
  auto d = store.resolve(name);
  if (!d) throw Error(describe(verb, name, "no such image in the store"));
  return *d;
}

std::vector<oci::Reference> tags_of(const oci::Store& store, const oci::Digest& manifest) {
  std::vector<oci::Reference> out;
  for (const auto& entry : store.list()) {
    if (entry.reference && entry.manifest.digest == manifest) out.push_back(*entry.reference);
  }
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// --- import ---------------------------------------------------------------------------------

snapshot::LayerBlob write_import_layer(const oci::Store& store, const fs::path& rootfs,
                                       const snapshot::LayerOptions& options) {
  fs::path out = store.temp_path("import-layer");
  if (fs::is_directory(rootfs)) return snapshot::write_layer_from_dir(rootfs, out, options);
  if (!fs::is_regular_file(rootfs)) {
    throw Error(describe(
        "import", rootfs.string(),
        fs::exists(rootfs) ? "neither a directory nor a tar file" : "no such file or directory"));
  }
  // A tar is unpacked (as a hostile layer) and written again, so the result is deterministic.
  TempDir tree(store.tmp_dir(), "import-root-");
  snapshot::apply_layer(rootfs, tree.path(), snapshot::ApplyMode::kFlatten);
  return snapshot::write_layer_from_dir(tree.path(), out, options);
}

/// The config of an imported image: one layer, for `platform` (--platform, else the host's).
oci::ImageConfig import_config(const snapshot::LayerBlob& layer, std::int64_t created,
                               const oci::Platform& platform) {
  oci::ImageConfig config;
  config.architecture = platform.architecture;
  config.os = platform.os;
  if (!platform.variant.empty()) config.variant = platform.variant;
  config.created = oci::rfc3339_utc(created);
  config.rootfs.diff_ids = {oci::Digest::parse(layer.diff_id)};
  config.history = {oci::HistoryEntry{.created = config.created,
                                      .created_by = "mkimg import",
                                      .comment = "imported from a root file system"}};
  return config;
}

void run_import(const GlobalOptions& global, const ImageCli& cli) {
  oci::Reference ref = oci::Reference::parse(cli.name);
  if (ref.digest) throw Error(describe("import", cli.name, "name the image NAME[:TAG]"));
  oci::Platform platform =
      cli.platform.empty() ? oci::host_platform() : oci::parse_platform(cli.platform);
  oci::Store store = open_store(global);
  snapshot::LayerOptions options;
  options.compression =
      cli.compression == "zstd" ? snapshot::Compression::kZstd : snapshot::Compression::kGzip;
  options.source_date_epoch = source_date_epoch();
  snapshot::LayerBlob layer;
  try {
    layer = write_import_layer(store, cli.source, options);
  } catch (const fs::filesystem_error& e) {
    throw Error(describe("import", cli.source, e.what()));
  }
  oci::Digest digest = oci::Digest::parse(layer.digest);
  // Written by the layer writer, which hashed and flushed it (as a build's layers).
  store.commit_file(layer.file, digest, oci::Verification::kTrustWriter);
  oci::Descriptor layer_descriptor{
      .media_type = layer.media_type, .digest = digest, .size = layer.size};
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  oci::ImageConfig config = import_config(layer, options.source_date_epoch.value_or(now), platform);
  oci::Descriptor manifest = oci::write_image(store, config, {layer_descriptor});
  // Unpacked now, like `docker import`: the first build FROM it starts at once.
  snapshot::ensure_unpacked(store, layer_descriptor, layer.diff_id,
                            snapshot::chain_id("", layer.diff_id));
  store.tag(ref, manifest);
  std::cout << manifest.digest.str() << "\n";
}

// --- pull, save, load -----------------------------------------------------------------------

void run_pull(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global);
  auto source = oci::open_source(cli.source, store, {.progress = progress(cli)});
  oci::CopyOptions options{.progress = progress(cli)};
  if (!cli.platform.empty()) options.platform = oci::parse_platform(cli.platform);
  options.all_platforms = cli.all_platforms;
  oci::Descriptor manifest = oci::pull(store, *source, options);
  auto names = source->names();
  if (names.empty()) store.add_untagged(manifest);
  for (const auto& name : names) {
    store.tag(name, manifest);
    if (!cli.quiet) std::cerr << "Tagged " << name.familiar() << "\n";
  }
  std::cout << manifest.digest.str() << "\n";
}

void run_save(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global, StoreUse::kRead);
  std::vector<oci::ArchiveImage> images;
  for (const auto& name : cli.names) {
    oci::ArchiveImage image{.manifest = resolve_or_throw(store, "save", name)};
    auto ref = oci::Reference::try_parse(name);
    if (ref && ref->tag && !ref->digest) {
      for (const auto& tag : tags_of(store, image.manifest.digest)) {
        if (tag == *ref) image.names.push_back(tag);
      }
    }
    images.push_back(image);
  }
  auto format = cli.format == "oci" ? oci::ArchiveFormat::kOci : oci::ArchiveFormat::kDocker;
  oci::save_archive(store, images, cli.output, format);
}

void run_load(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global);
  for (const auto& image : oci::load_archive(store, cli.input)) {
    if (image.names.empty())
      std::cout << "Loaded image ID: " << image.manifest.digest.str() << "\n";
    for (const auto& name : image.names) std::cout << "Loaded image: " << name.familiar() << "\n";
  }
}

// --- images, inspect, history ---------------------------------------------------------------

std::string created_age(const std::optional<std::string>& created) {
  auto when = created ? oci::parse_rfc3339(*created) : std::nullopt;
  return when ? human_age(*when) : "N/A";
}

std::int64_t image_size(const oci::Image& image) {
  std::int64_t size = image.manifest.config.size;
  for (const auto& layer : image.manifest.layers) size += layer.size;
  return size;
}

/// One row of `mkimg images`.
struct ImageRow {
  std::string repository = "<none>", tag = "<none>";
  oci::Digest manifest;
  oci::Image image;
};

std::vector<ImageRow> image_rows(const oci::Store& store) {
  std::vector<ImageRow> rows;
  for (const auto& entry : store.list()) {
    ImageRow row{.manifest = entry.manifest.digest};
    if (entry.reference) {
      row.repository = entry.reference->familiar_repository();
      row.tag = entry.reference->tag.value_or("<none>");
    }
    try {
      row.image = oci::load_image(store, entry.manifest);
    } catch (const Error& e) {
      std::cerr << "mkimg: warning: " << e.what() << "\n";
      continue;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void run_images(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global, StoreUse::kRead);
  auto rows = image_rows(store);
  if (cli.format == "json") {
    std::string out = "[";
    for (const auto& r : rows) {
      if (out.size() > 1) out += ",";
      out += "{\"repository\":" + json_string(r.repository) + ",\"tag\":" + json_string(r.tag) +
             ",\"id\":" + json_string(r.image.manifest.config.digest.str()) +
             ",\"digest\":" + json_string(r.manifest.str()) +
             ",\"created\":" + json_string(r.image.config.created.value_or("")) +
             ",\"size\":" + std::to_string(image_size(r.image)) + "}";
    }
    std::cout << out << "]\n";
    return;
  }
  std::printf("%-40s %-20s %-12s %-20s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
  for (const auto& r : rows) {
    std::printf("%-40s %-20s %-12s %-20s %s\n", r.repository.c_str(), r.tag.c_str(),
                r.image.manifest.config.digest.short_id().c_str(),
                created_age(r.image.config.created).c_str(),
                human_size(image_size(r.image)).c_str());
  }
  std::fflush(stdout);
}

void run_inspect(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global, StoreUse::kRead);
  std::string out = "[";
  for (const auto& name : cli.names) {
    oci::Image image = oci::load_image(store, resolve_or_throw(store, "inspect", name));
    std::string tags;
    for (const auto& tag : tags_of(store, image.manifest_descriptor.digest)) {
      tags += (tags.empty() ? "" : ",") + json_string(tag.familiar());
    }
    if (out.size() > 1) out += ",";
    out += "{\"Id\":" + json_string(image.manifest.config.digest.str()) +
           ",\"Digest\":" + json_string(image.manifest_descriptor.digest.str()) +
           ",\"RepoTags\":[" + tags + "],\"Size\":" + std::to_string(image_size(image)) +
           ",\"Manifest\":" + oci::to_json(image.manifest) +
           ",\"Config\":" + oci::to_json(image.config) + "}";
  }
  std::cout << out << "]\n";
}

void run_history(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global, StoreUse::kRead);
  oci::Image image = oci::load_image(store, resolve_or_throw(store, "history", cli.name));
  const auto& history = image.config.history;
  std::vector<std::string> sizes(history.size(), "0B");
  std::size_t layer = 0;
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i].empty_layer.value_or(false)) continue;
    if (layer < image.manifest.layers.size()) {
      sizes[i] = human_size(image.manifest.layers[layer++].size);
    }
  }
  std::printf("%-12s %-20s %-45s %-10s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
  for (std::size_t i = history.size(); i-- > 0;) {
    std::string id =
        i + 1 == history.size() ? image.manifest.config.digest.short_id() : "<missing>";
    std::string by = history[i].created_by.value_or("");
    if (by.size() > 45) by = by.substr(0, 42) + "...";
    std::printf("%-12s %-20s %-45s %-10s %s\n", id.c_str(), created_age(history[i].created).c_str(),
                by.c_str(), sizes[i].c_str(), history[i].comment.value_or("").c_str());
  }
  std::fflush(stdout);
}

// --- tag, rmi, prune ------------------------------------------------------------------------

void run_tag(const GlobalOptions& global, const ImageCli& cli) {
  oci::Reference dest = oci::Reference::parse(cli.output);
  oci::Store store = open_store(global);
  store.tag(dest, resolve_or_throw(store, "tag", cli.source));
}

void run_rmi(const GlobalOptions& global, const ImageCli& cli) {
  oci::Store store = open_store(global);
  for (const auto& name : cli.names) {
    auto ref = oci::Reference::try_parse(name);
    if (ref && ref->tag && !ref->digest && store.untag(*ref)) {
      std::cout << "Untagged: " << ref->familiar() << "\n";
      continue;
    }
    oci::Descriptor d = resolve_or_throw(store, "remove image", name);
    for (const auto& tag : tags_of(store, d.digest))
      std::cout << "Untagged: " << tag.familiar() << "\n";
    store.remove_manifest(d.digest);
    std::cout << "Deleted: " << d.digest.str() << "\n";
  }
}

void run_prune(const GlobalOptions& global) {
  oci::Store store = open_store(global);
  for (const auto& entry : store.list()) {
    if (!entry.reference) store.remove_manifest(entry.manifest.digest);
  }
  snapshot::LayerPruneResult layers;
  oci::GcOptions options;
  options.on_wait = [] {
    std::cerr << "Waiting for the other mkimg processes using the store to finish\n";
  };
  options.while_exclusive = [&] { layers = snapshot::prune_layers(store); };
  oci::GcResult result = store.gc(options);
  builder::prune_copy_recalls(store);  // records of COPY layers whose blobs are gone
  std::cout << "Deleted " << result.blobs_removed << " blobs\nDeleted " << layers.layers_removed
            << " unpacked layers\nTotal reclaimed space: "
            << human_size(result.bytes_removed + layers.bytes_removed) << "\n";
}

}  // namespace

std::string human_size(std::int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f%s" : "%.3g%s", value, units[unit]);
  return buf;
}

std::string human_age(std::int64_t when) {
  std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - when;
  struct Unit {
    std::int64_t seconds;
    const char* name;
  };
  for (Unit u : {Unit{365 * 86400, "year"}, Unit{30 * 86400, "month"}, Unit{7 * 86400, "week"},
                 Unit{86400, "day"}, Unit{3600, "hour"}, Unit{60, "minute"}}) {
    if (age >= u.seconds) {
      std::int64_t n = age / u.seconds;
      return std::to_string(n) + " " + u.name + (n == 1 ? "" : "s") + " ago";
    }
  }
  return "Less than a minute ago";
}

namespace {

/// A subcommand's callback: `run` with the global options and the shared flag values.
std::function<void()> bind_run(GlobalOptions& options, std::shared_ptr<ImageCli> cli,
                               void (*run)(const GlobalOptions&, const ImageCli&)) {
  return [&options, cli, run] { run(options, *cli); };
}

/// import, pull, save, load: images into and out of the store.
void add_transfer_commands(CLI::App& app, GlobalOptions& options, std::shared_ptr<ImageCli> cli) {
  auto bind = [&](auto run) { return bind_run(options, cli, run); };
  auto* import =
      app.add_subcommand("import", "Make a one-layer image from a root directory or tar");
  import->add_option("ROOTFS", cli->source, "Root file system: a directory or a tar file")
      ->required();
  import->add_option("NAME", cli->name, "Image name NAME[:TAG]")->required();
  import->add_option("--compression", cli->compression, "Layer compression")
      ->check(CLI::IsMember({"gzip", "zstd"}));
  import->add_option("--platform", cli->platform,
                     "os/arch[/variant] the image's config names (default: the host's)");
  import->callback(bind(run_import));

  auto* pull = app.add_subcommand("pull", "Copy an image into the store");
  pull->add_option("SOURCE", cli->source,
                   "oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF] or a "
                   "registry reference")
      ->required();
  pull->add_option("--platform", cli->platform, "os/arch[/variant] (default: the host's)");
  pull->add_flag("--all-platforms", cli->all_platforms,
                 "An index with every platform's image and its attestations (for mkimg verify)");
  pull->add_flag("-q,--quiet", cli->quiet, "No progress output");
  pull->callback(bind(run_pull));

  auto* save = app.add_subcommand("save", "Write images to a docker-archive or an oci-archive");
  save->add_option("NAME", cli->names, "Images to save")->required();
  save->add_option("-o,--output", cli->output, "Archive file to write")->required();
  save->add_option("--format", cli->format, "docker (default) or oci")
      ->check(CLI::IsMember({"docker", "oci"}));
  save->callback(bind(run_save));

  auto* load = app.add_subcommand("load", "Load images from a docker-archive or an oci-archive");
  load->add_option("-i,--input", cli->input, "Archive file to read")->required();
  load->callback(bind(run_load));
}

/// images, inspect, history, tag, rmi, prune: the store's images.
void add_store_commands(CLI::App& app, GlobalOptions& options, std::shared_ptr<ImageCli> cli) {
  auto bind = [&](auto run) { return bind_run(options, cli, run); };
  auto* images = app.add_subcommand("images", "List the images in the store");
  images->add_option("--format", cli->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  images->callback(bind(run_images));

  auto* inspect = app.add_subcommand("inspect", "Print images' manifest and config as JSON");
  inspect->add_option("NAME", cli->names, "Images (tag, digest or id)")->required();
  inspect->callback(bind(run_inspect));

  auto* history = app.add_subcommand("history", "Show the history of an image");
  history->add_option("NAME", cli->name, "Image (tag, digest or id)")->required();
  history->callback(bind(run_history));

  auto* tag = app.add_subcommand("tag", "Give an image another name");
  tag->add_option("SOURCE", cli->source, "Image (tag, digest or id)")->required();
  tag->add_option("TARGET", cli->output, "New name NAME[:TAG]")->required();
  tag->callback(bind(run_tag));

  auto* rmi = app.add_subcommand("rmi", "Remove image tags (blobs are freed by `mkimg prune`)");
  rmi->add_option("NAME", cli->names, "Images (tag, digest or id)")->required();
  rmi->callback(bind(run_rmi));

  auto* prune = app.add_subcommand(
      "prune", "Remove untagged images, unreferenced blobs and unused unpacked layers");
  prune->callback([&options] { run_prune(options); });
}

}  // namespace

void add_image_commands(CLI::App& app, GlobalOptions& options) {
  auto cli = std::make_shared<ImageCli>();
  add_transfer_commands(app, options, cli);
  add_store_commands(app, options, cli);
}

}  // namespace mkimg::cli
