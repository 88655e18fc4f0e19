// A file-system step (RUN, COPY, ADD, WORKDIR): look its key up in the cache; on a hit reuse
// the layer; on a miss mount an overlay of the parent's layers with a fresh upper directory,
// let the step work in the merged root, unmount, drop mount stubs, diff the upper directory
// into a layer blob, commit it, adopt the upper directory as the unpacked layer and record
// the cache entry. A step that changed nothing still makes a layer (an empty tar), as BuildKit.
// A step may instead write its layer blob itself (DirectWork: COPY straight from its sources,
// copy/plan.h), alone (no upper directory; the layer is unpacked from its blob the first time
// a later step needs it: layers are unpacked lazily, image_lowers()) or while its files are
// written straight into the upper directory for the steps after it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "cache/cache_key.h"
#include "parser/dockerfile.h"
#include "runtime/mount_stubs.h"
#include "snapshot/layer_writer.h"

namespace mkimg::builder {

/// What to show and record for a step.
struct StepDescription {
  std::string label;       ///< "stage-name 2/7"
  std::string text;        ///< "RUN make" as shown in progress
  std::string created_by;  ///< the history entry's created_by
};

/// The work of a step inside the mounted root `merged`; returns the mount stubs (paths in the
/// root) it caused, which are removed from the upper directory before the diff.
using StepWork =
    std::function<std::vector<runtime::MountStub>(const std::filesystem::path& merged)>;

/// Writes a step's layer blob to `out_file` with `options`.
using LayerWriter = std::function<snapshot::LayerBlob(const std::filesystem::path& out_file,
                                                      const snapshot::LayerOptions& options)>;

/// A step that can write its layer itself (COPY straight from its sources). `plan` returns
/// the writer, or an empty function when the step must be diffed from the overlay instead.
/// With `also_on_disk` (a later step reads the files) the writer runs on a thread while
/// `materialize` writes the same files straight into the empty upper directory it is given (no
/// overlay mounted), which is then adopted without a diff; without it, nothing is written to
/// disk but the blob. `materialize` returns "", or the chain id of a whole layer directory the
/// store has when it made only the delta over it (snapshot::materialize_delta): the directory is
/// then adopted as a stack over it (snapshot/layer_store.h).
struct DirectWork {
  std::function<LayerWriter()> plan;
  std::function<std::string(const std::filesystem::path& upper)> materialize;
  bool also_on_disk = true;
};

/// Runs one file-system step of `stage` (see the file comment): `direct` first when given.
/// With `alias`, the step's entry is also recorded under that key (see reuse_by_alias).
/// Throws on failure; the stage's image is unchanged then.
void run_layer_step(BuildSession& session, StageState& stage, const cache::StepKey& key,
                    const StepDescription& description, const StepWork& work,
                    const DirectWork& direct = {}, const cache::StepKey* alias = nullptr);

/// A step's alias key says what the step reads by the keys of where it reads from, not by the
/// content (`COPY --from=STAGE`: the stage's last key), so it is known before any byte of the
/// source is. When the cache has an entry under it, the step is cached without reading its
/// source: true, and the stage continues from the step's own key, which the entry names
/// (`chain_key`), so the key chain is the same whichever key hit. A runner that gets the stage
/// from a shared cache then never downloads the stage's layers for the COPY.
bool reuse_by_alias(BuildSession& session, StageState& stage, const cache::StepKey& alias,
                    const StepDescription& description);

/// While one is alive on a thread, the steps run there only compute their keys: run_layer_step
/// collects each key and goes on as if the step were cached (no layer), so the steps after it
/// get theirs; reuse_by_alias looks its alias up; image_lowers (anything that would read a
/// root file system) throws, and so does an ADD that would download a URL for its key. A
/// stage's steps run in one learn the keys known before anything runs.
class KeySpeculation {
 public:
  KeySpeculation();
  ~KeySpeculation();
  KeySpeculation(const KeySpeculation&) = delete;
  KeySpeculation& operator=(const KeySpeculation&) = delete;
  std::vector<std::string> keys;
};

/// True while a KeySpeculation is alive on this thread.
bool speculating();

/// Learns the keys of the steps of `source` (the stage `stage` starts after its FROM) that are
/// known before any of them runs (a RUN after a COPY needs only the COPY's key; the keys stop at
/// the first step that must read a root file system to know its key), and asks the
/// --cache-from sources for those the store lacks, all at once. The answers are kept in the
/// session; run_layer_step takes them instead of asking again.
void prefetch_shared_hits(BuildSession& session, const StageState& stage,
                          const std::vector<parser::Instruction>& instructions,
                          const std::vector<bool>& read_later);

/// The overlay lower directories of `image` (topmost first), unpacking the layers that are not
/// unpacked yet.
std::vector<std::filesystem::path> image_lowers(BuildSession& session, const ImageState& image);

/// Adds a history entry for a metadata step (empty_layer).
void add_metadata_history(BuildSession& session, StageState& stage, const std::string& created_by);

/// A read-only view of a finished image's root: an overlay of its layers with no upper (a
/// read-only bind mount when there is one layer).
class ImageView {
 public:
  ImageView(BuildSession& session, const ImageState& image);
  ImageView(const ImageView&) = delete;
  ImageView& operator=(const ImageView&) = delete;
  ~ImageView();
  const std::filesystem::path& root() const { return root_; }

 private:
  void bind_read_only(const std::filesystem::path& layer);

  std::filesystem::path root_;
  bool mounted_ = false;
};

}  // namespace mkimg::builder
