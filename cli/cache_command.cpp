// `mkimg cache prune`: the store's step cache and cache mounts, or with --ref a registry cache
// (cache/prune.h; docs/cache.md "Pruning the cache"). What goes is listed on stdout by
// --dry-run; a prune prints what it deleted and the space reclaimed.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>

#include "builder/copy/recall.h"
#include "cache/prune.h"
#include "cli/cli.h"
#include "common/error.h"
#include "parser/duration.h"

namespace mkimg::cli {
namespace {

/// Everything `mkimg cache prune` reads from the command line.
struct CachePruneCli {
  std::string older_than, ref;
  std::int64_t keep_storage = 0;
  bool keep_storage_given = false, dry_run = false;
  registry::RegistryOptions registry;
};

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// --older-than as a limit: a Go duration ("24h", "90m") or days ("7d").
std::chrono::seconds age_limit(const std::string& text) {
  return std::chrono::duration_cast<std::chrono::seconds>(parser::parse_age(text));
}

cache::PruneLimits limits_of(const CachePruneCli& cli) {
  cache::PruneLimits limits;
  if (!cli.older_than.empty()) limits.older_than = age_limit(cli.older_than);
  if (cli.keep_storage_given) limits.keep_storage = cli.keep_storage;
  return limits;
}

void run_local_prune(const GlobalOptions& global, const CachePruneCli& cli) {
  oci::Store store = open_store(global);
  cache::LocalPruneOptions options{.limits = limits_of(cli), .dry_run = cli.dry_run};
  options.on_wait = [] {
    std::cerr << "Waiting for the other mkimg processes using the store to finish\n";
  };
  cache::LocalPruneReport report = cache::prune_local(store, options);
  if (!cli.dry_run) builder::prune_copy_recalls(store);  // records of layers that went
  if (cli.dry_run) {
    for (const auto& item : report.removed) {
      bool entry = item.kind == cache::PrunedItem::Kind::kEntry;
      std::cout << "Would delete " << (entry ? "cache entry " : "cache mount ") << item.name << " ("
                << human_size(item.bytes) << ", last used " << human_age(item.last_used) << ")\n";
    }
  }
  const char* verb = cli.dry_run ? "Would delete " : "Deleted ";
  std::cout << verb << plural(report.entries, "cache entry", "cache entries") << "\n"
            << verb << plural(report.mounts, "cache mount", "cache mounts") << "\n"
            << (cli.dry_run ? "Total reclaimable space: " : "Total reclaimed space: ")
            << human_size(report.bytes) << "\n";
}

void run_registry_prune(const CachePruneCli& cli) {
  cache::RegistryPruneOptions options{
      .ref = cli.ref, .limits = limits_of(cli), .dry_run = cli.dry_run, .registry = cli.registry};
  cache::RegistryPruneReport report = cache::prune_registry(options);
  using Action = cache::RegistryItem::Action;
  std::size_t entries = 0, mounts = 0, kept = 0, not_deleted = 0;
  for (const auto& item : report.items) {
    const char* what = item.mount ? "mount" : "entry";
    switch (item.action) {
      case Action::kDeleted:
        ++(item.mount ? mounts : entries);
        std::cout << (cli.dry_run ? "Would delete " : "Deleted ") << item.tag << " (" << item.digest
                  << ", created " << item.created << ")";
        for (const auto& other : item.also) {
          std::cout << ", and with it " << other << " (another cache's tag of the same manifest)";
        }
        std::cout << "\n";
        break;
      case Action::kKept:
        ++kept;
        if (!item.note.empty()) std::cout << "Kept " << item.tag << ": " << item.note << "\n";
        break;
      case Action::kNotEntry:
        std::cout << "Skipped " << item.tag << ": not a cache " << what << " (" << item.note
                  << ")\n";
        break;
      case Action::kNotDeleted:
        ++not_deleted;
        std::cout << "Not deleted " << item.tag << " (" << item.digest << ", created "
                  << item.created << ")\n";
        break;
    }
  }
  std::cout << (cli.dry_run ? "Would delete " : "Deleted ")
            << plural(entries, "cache entry", "cache entries") << " and "
            << plural(mounts, "cache mount", "cache mounts") << " from " << report.repository
            << " (" << kept << " newer kept)\n";
  if (report.deletes_refused) {
    std::string host = report.repository.substr(0, report.repository.find('/'));
    throw Error(describe("prune cache", report.repository,
                         "registry " + host + " does not allow deleting manifests (" +
                             std::to_string(not_deleted) +
                             " not deleted; docker-registry allows it with "
                             "REGISTRY_STORAGE_DELETE_ENABLED=true, and a credential may lack "
                             "the right to delete)"));
  }
  if (entries + mounts > 0 && !cli.dry_run) {
    std::cout << "The registry frees their layers when its own garbage collection runs "
                 "(docker-registry: `registry garbage-collect`)\n";
  }
}

}  // namespace

void add_cache_commands(CLI::App& app, GlobalOptions& options) {
  auto cli = std::make_shared<CachePruneCli>();
  auto* cache = app.add_subcommand("cache", "Manage the build cache");
  cache->require_subcommand(1);
  auto* prune = cache->add_subcommand(
      "prune",
      "Remove build cache: the store's step cache entries, the layers only they use and the "
      "RUN --mount=type=cache directories (all of it without a filter), or with --ref the "
      "entries and cache mounts of a registry cache");
  prune
      ->add_option("--older-than", cli->older_than,
                   "Only what was not used for DURATION (Go duration such as 24h or 90m, or "
                   "days: 7d); with --ref, what was made that long ago")
      ->check([](const std::string& v) {
        try {
          if (parser::parse_age(v).count() < 0) return v + " is negative";
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      });
  auto* keep =
      prune
          ->add_option("--keep-storage", cli->keep_storage,
                       "Then remove the least recently used until the cache holds at most SIZE "
                       "(bytes, or with k, m, g, t: powers of 1024, as 512MB, 10GB)")
          ->transform(CLI::AsSizeValue(false))
          ->check([](const std::string& v) {  // v is the number of bytes here
            return !v.empty() && v[0] == '-' ? v + " is negative" : std::string();
          });
  auto* ref = prune->add_option("--ref", cli->ref,
                                "Prune the registry cache REPO[:TAG] (as --cache-to "
                                "type=registry,ref=) instead of the store's");
  keep->excludes(ref);
  prune->add_flag("--dry-run", cli->dry_run, "Print what would be removed; remove nothing");
  add_registry_access_flags(prune, cli->registry);
  prune->callback([&options, cli, keep] {
    cli->keep_storage_given = keep->count() > 0;
    if (cli->ref.empty()) {
      run_local_prune(options, *cli);
    } else {
      run_registry_prune(*cli);
    }
  });
}

}  // namespace mkimg::cli
