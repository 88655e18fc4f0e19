# Libraries linked into the mkimg binary itself, not opened at every start.
#
# Every mkimg command, and so every build step a CI runs, first waits for the dynamic loader.
# libarchive brings libxml2 and ICU with it (for formats mkimg never writes), and libcrypto has
# thousands of relocations: on this project's CI machine they were 7 of the 19 ms of
# `mkimg --version`, and libstdc++, spdlog, fmt and yaml-cpp 3 of the 12 ms left.
#
# mkimg_archive, mkimg_crypto and mkimg_yaml stand for those libraries wherever a folder links
# them. They are the shared libraries for every target (the tests, the fuzzers), except a target
# whose MKIMG_STATIC_DEPS property is on (the mkimg executable, cli/CMakeLists.txt), which gets
# the static archives of Debian's -dev packages, found through pkg-config --static, and links
# libstdc++ statically too. Only the objects mkimg calls are taken from them. With
# -DMKIMG_STATIC_DEPS=OFF, or where an archive is missing, the binary links the shared libraries.
# mkimg_log is spdlog and fmt as headers only, for every target (Debian ships no static archives
# of them).
#
# The static libcrypto is private to the binary (none of its symbols are exported), so the
# libcurl that registry/curl_loader.cpp opens for a pull or a push gets its own shared libcrypto.
option(MKIMG_STATIC_DEPS
       "Link libarchive, libcrypto, yaml-cpp and libstdc++ into the mkimg binary statically" ON)

# The libraries `pkg-config --static` names for `modules`, each as its static archive where
# there is one, else as the shared library. Sets `out` to the list, or to "" when the module's own
# library (the first) has no static archive or another has neither.
function(mkimg_static_libraries out)
  set(paths)
  foreach(module ${ARGN})
    pkg_check_modules(MKIMG_PC_${module} QUIET ${module})
    set(first TRUE)
    foreach(name ${MKIMG_PC_${module}_STATIC_LIBRARIES})
      if(name MATCHES "^(c|m|dl|rt|pthread)$")  # the C library's parts stay shared
        list(APPEND paths ${name})
        continue()
      endif()
      find_library(MKIMG_STATIC_${name} NAMES lib${name}.a
                   HINTS ${MKIMG_PC_${module}_STATIC_LIBRARY_DIRS})
      find_library(MKIMG_SHARED_${name} NAMES ${name}
                   HINTS ${MKIMG_PC_${module}_STATIC_LIBRARY_DIRS})
      if(MKIMG_STATIC_${name})
        list(APPEND paths ${MKIMG_STATIC_${name}})
      elseif(MKIMG_SHARED_${name} AND NOT first)
        list(APPEND paths ${MKIMG_SHARED_${name}})
      else()
        # No archive of the module itself, or a dependency the linker cannot find at all
        # (its -dev package is missing): the shared library as before.
        message(STATUS "mkimg links ${module} shared: no lib${name}.a or lib${name}.so")
        set(${out} "" PARENT_SCOPE)
        return()
      endif()
      set(first FALSE)
    endforeach()
  endforeach()
  set(${out} ${paths} PARENT_SCOPE)
endfunction()

# mkimg_startup_dependency(<target> SHARED <imported target> STATIC <archive or -l name>...)
function(mkimg_startup_dependency target)
  cmake_parse_arguments(ARG "" "SHARED" "STATIC" ${ARGN})
  add_library(${target} INTERFACE)
  if(MKIMG_STATIC_DEPS AND ARG_STATIC)
    set(static "$<BOOL:$<TARGET_PROPERTY:MKIMG_STATIC_DEPS>>")
    target_link_libraries(${target} INTERFACE "$<${static}:${ARG_STATIC};${CMAKE_DL_LIBS}>"
                                              "$<${static}:Threads::Threads>"
                                              "$<$<NOT:${static}>:${ARG_SHARED}>")
    message(STATUS "mkimg links ${target} statically: ${ARG_STATIC}")
  else()
    target_link_libraries(${target} INTERFACE ${ARG_SHARED})
  endif()
endfunction()

set(archive_static)
set(crypto_static)
set(yaml_static)
if(MKIMG_STATIC_DEPS)
  mkimg_static_libraries(archive_static libarchive libxml-2.0)
  mkimg_static_libraries(crypto_static libcrypto)
  mkimg_static_libraries(yaml_static yaml-cpp)
endif()
mkimg_startup_dependency(mkimg_archive SHARED LibArchive::LibArchive STATIC ${archive_static})
mkimg_startup_dependency(mkimg_crypto SHARED OpenSSL::Crypto STATIC ${crypto_static})
mkimg_startup_dependency(mkimg_yaml SHARED yaml-cpp STATIC ${yaml_static})
# libstdc++ and libgcc too, but not with the sanitizers, whose run time replaces operator new.
set(static_runtime OFF)
if(MKIMG_STATIC_DEPS AND NOT MKIMG_SANITIZE AND NOT MKIMG_FUZZ)
  set(static_runtime ON)
endif()
# Whether the binary needs none of them at run time (tests/integration/cli checks its ELF).
set(MKIMG_STATIC_DEPS_LINKED OFF)
if(archive_static AND crypto_static AND yaml_static AND static_runtime)
  set(MKIMG_STATIC_DEPS_LINKED ON)
endif()

add_library(mkimg_log INTERFACE)
target_compile_definitions(mkimg_log INTERFACE SPDLOG_FMT_EXTERNAL)
target_include_directories(mkimg_log INTERFACE
  $<TARGET_PROPERTY:spdlog::spdlog_header_only,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(mkimg_log INTERFACE fmt::fmt-header-only Threads::Threads)

# mkimg_static_runtime(<target>): libstdc++ and libgcc linked into `target` where they can be.
function(mkimg_static_runtime target)
  if(static_runtime)
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc)
  endif()
endfunction()
