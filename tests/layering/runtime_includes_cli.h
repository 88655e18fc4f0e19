// A file of runtime/ that includes a header of cli/, which runtime/ may not use: the layering
// check (cmake/check_includes.cmake) must refuse it. Never compiled.
#pragma once

#include "cli/cli.h"
#include "oci/store.h"
