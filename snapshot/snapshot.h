// snapshot/: file system <-> layer. A map of the folder:
//
//   snapshot.h         this map, and below it what mkimg does with layer tars
//   layer_writer.h     write a layer: a sorted list of entries -> a deterministic tar blob, with
//                      its diff_id and blob digest in the same pass
//   compressed_sink.h  (internal) the writer's output end: gzip members or zstd on worker threads
//   spec_tree.h        a layer given entry by entry (a COPY) made real as files, whole or as
//                      the delta over an earlier layer
//   apply.h            apply a hostile layer blob to a directory (overlay lower or flatten)
//   entry_applier.h    (internal) one tar entry made real inside a root
//   root_fs.h          (internal) paths inside the root being applied, as clean components
//   layer_stream.h     (internal) a blob's decompressed bytes, hashed, size and ratio capped
//   diff.h             the change of a step as a layer: overlay upper directory or tree walk
//   change_set.h       (internal) the entries both diff paths find and the rule they share
//   tree_walk.h        (internal) reading a tree that may be hostile, by file descriptor only
//   layer_entries.h    a layer tar's entries with metadata and content digests, streamed
//   layer_store.h      unpacked layers under <root>/layers/<chain id>, unpacked lazily, or
//                      stacked: a delta over a whole layer directory (<chain id>.stack)
//   image_diff.h       what differs between two images: `mkimg diff`, --verify-reproducible
//   root_export.h      an image's root file system written into a directory (merged into
//                      what it holds) or as one tar: `build --output type=local|tar`
//
// The three things mkimg does with layer tars:
//
// 1. Write a layer (layer_writer.h). A layer is a tar stream of `LayerEntry`s read from one
//    source directory. The writer is deterministic: PAX (ustar headers, PAX records only when
//    needed), entries sorted component-wise by path, numeric uid/gid only, no atime/ctime,
//    mtime in whole seconds and clamped to SOURCE_DATE_EPOCH when set, hardlinks as hardlinks
//    (the first path in sort order is the file), `security.capability` and `user.*` xattrs
//    kept. The tar bytes are hashed (diff_id) and compressed in the same pass; the compressed
//    bytes are hashed (blob digest) as they are written, so the tree is read once.
//    Compression runs on worker threads over blocks of at most 1 MiB (gzip: each block one gzip
//    member by libdeflate, the members concatenated as RFC 1952 allows and eStargz does, cut
//    where the content says so that a rebuild can copy the unchanged members of the last blob;
//    zstd: libzstd with >= 1 worker), so the bytes never depend on the number of threads or
//    timing. A layer can also be given entry by entry (SpecEntry: COPY from its sources), and
//    such a layer made real as files (spec_tree.h, hardlinking an earlier layer's unchanged
//    files, or only the delta over it). Given an earlier such layer (EarlierLayer), an entry
//    with the same fingerprint takes its tar bytes from the earlier blob unread and a member
//    that is exactly an earlier one is copied (the first such members without being
//    decompressed: the diff_id goes on from the SHA-256 state recorded after them); the bytes
//    are those of a fresh write.
// 2. Apply a layer (apply.h). Every layer is hostile. Every path is resolved from a root fd
//    with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); names with `..` are refused;
//    metadata is set with AT_SYMLINK_NOFOLLOW, owner before mode; sizes, counts and the
//    decompression ratio are capped (ApplyLimits; the size cap is per process,
//    set_max_layer_size(), from --max-layer-size), checked before the bytes are applied.
//    The diff_id is computed over the whole decompressed stream (padding after the
//    end-of-archive included). Two modes:
//    overlay_lower unpacks one layer into its own directory and turns OCI whiteouts into
//    overlay ones, so a stack of such directories mounts as overlay lowerdirs; flatten applies
//    a layer onto an existing tree. unpack_layer() does the temp-dir, verify, rename dance.
// 3. Diff a step (diff.h). Two paths that give the same bytes for the same change:
//    diff_overlay_upper() reads the overlay upper directory (cost ~ the change), and
//    diff_walk() compares a tree with a TreeState recorded before the step ran in that same
//    tree (stat only: inode, ctime, mtime, mode, owner, size, link count). Both decide with
//    one rule (change_set.h): a non-directory is in the layer when it was touched; a
//    directory when its own metadata changed, when it was re-created (opaque), or when it is
//    an ancestor of an entry in the layer.
//
// 4. Read a layer's entries (layer_entries.h): metadata and content digest of every entry,
//    streamed, for comparing images (image_diff.h).
// 5. Write an image's root file system out (root_export.h): the layers applied in flatten mode,
//    then merged into a directory or written as one tar by the layer writer.
//
// Limits to know: xattrs travel on regular files and directories only; overlay_lower marks
// opaque directories with trusted.overlay.opaque as real root, user.overlay.opaque in a user
// namespace (common/user_namespace.h), and no layer sets or records either; the overlay whose
// upper dir is diffed must be mounted with redirect_dir=off and metacopy=off (the diff refuses
// an upper dir that uses either);
// a whiteout and a directory of the same name in one layer are not turned into an opaque dir.
//
// Third-party code (libarchive, zlib, zstd, OpenSSL) stays in the .cpp files of this folder.
#pragma once

#include "snapshot/apply.h"
#include "snapshot/diff.h"
#include "snapshot/layer_writer.h"
#include "snapshot/spec_tree.h"
