// How a container reaches the network: the one enum for RUN --network (parser/), the build's
// and `mkimg run`'s --network (cli/, builder/) and the bundle (runtime/).
#pragma once

namespace mkimg {

enum class NetworkMode {
  kSandbox,  ///< RUN's default (`--network=default`): the builder gives it the build's mode
  kNone,     ///< a network namespace of its own, loopback only
  kHost,     ///< the host's network namespace
};

}  // namespace mkimg
