// The OCI layout source (oci:DIR[:REF] and oci-archive:FILE[:REF]).
#include "common/error.h"
#include "oci/json_detail.h"
#include "oci/sources.h"

namespace mkimg::oci::detail {
namespace {

std::string blob_name(const Digest& d) {
  return "blobs/" + std::string(d.algorithm_name()) + "/" + d.encoded();
}

Index read_layout_index(const FileTree& tree) {
  try {
    return parse_index(tree.read("index.json", kMaxDocumentSize));
  } catch (const Error& e) {
    throw with_context("read OCI layout `" + tree.name() + "`", e);
  }
}

std::string ref_name(const Descriptor& d) {
  auto it = d.annotations.find(kRefNameAnnotation);
  return it == d.annotations.end() ? "" : it->second;
}

/// A ref.name that is a whole reference ("app:v1", "ghcr.io/x/y"), not just a tag ("v1").
std::optional<Reference> as_reference(const std::string& name) {
  if (name.find_first_of(":/") == std::string::npos) return std::nullopt;
  return Reference::try_parse(name);
}

class OciLayoutSource : public ImageSource {
 public:
  OciLayoutSource(std::unique_ptr<FileTree> tree, std::string spec, OciSelector selector)
      : tree_(std::move(tree)), spec_(std::move(spec)), selector_(std::move(selector)) {}

  std::string name() const override { return spec_; }

  Descriptor resolve() override {
    if (!chosen_) chosen_ = choose(read_layout_index(*tree_));
    return *chosen_;
  }

  std::string fetch_manifest(const Descriptor& d) override {
    return tree_->read(blob_name(d.digest), kMaxDocumentSize);
  }

  std::unique_ptr<BlobStream> open_blob(const Descriptor& d) override {
    return tree_->open(blob_name(d.digest));
  }

  std::vector<Reference> names() override {
    auto ref = as_reference(ref_name(resolve()));
    if (ref) return {*ref};
    return {};
  }

 private:
  Descriptor choose(const Index& index) const {
    const auto& entries = index.manifests;
    if (selector_.position) {
      if (*selector_.position >= entries.size())
        throw Error(describe("open", spec_, "no such entry"));
      return entries[*selector_.position];
    }
    if (selector_.ref) {
      // A manifest digest picks the entry of that digest (buildx's oci-layout://DIR@DIGEST).
      if (auto digest = Digest::try_parse(*selector_.ref)) {
        for (const auto& d : entries) {
          if (d.digest == *digest) return d;
        }
        throw Error(
            describe("open", spec_, "no image of digest " + digest->str() + " in index.json"));
      }
      for (const auto& d : entries) {
        if (ref_name(d) == *selector_.ref) return d;
      }
      auto want = Reference::try_parse(*selector_.ref);
      for (const auto& d : entries) {
        auto have = as_reference(ref_name(d));
        if (want && have && *want == *have) return d;
      }
      throw Error(describe("open", spec_, "no image named `" + *selector_.ref + "` in index.json"));
    }
    if (entries.size() != 1) {
      throw Error(describe(
          "open", spec_,
          "index.json has " + std::to_string(entries.size()) + " images; name one with :REF"));
    }
    return entries.front();
  }

  std::unique_ptr<FileTree> tree_;
  std::string spec_;
  OciSelector selector_;
  std::optional<Descriptor> chosen_;
};

}  // namespace

std::unique_ptr<ImageSource> oci_layout_source(std::unique_ptr<FileTree> tree, std::string spec,
                                               OciSelector selector) {
  return std::make_unique<OciLayoutSource>(std::move(tree), std::move(spec), std::move(selector));
}

std::size_t oci_layout_size(const FileTree& tree) {
  return read_layout_index(tree).manifests.size();
}

}  // namespace mkimg::oci::detail
