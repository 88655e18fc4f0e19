# One folder = one static library = one namespace, and the folders form layers:
#
#   cli -> builder -> runtime, snapshot, cache; cache -> registry -> oci -> common;
#   parser -> common
#
# A folder may use only the folders below it. mkimg_folder_library() makes the folder's library,
# links it to exactly the libraries of the folders it may use, and checks at build time (a
# stamp rebuilt whenever a source of the folder changes) that no file of the folder includes a
# header of a folder it may not use: a wrong include fails the build, a wrong call fails the
# link (each folder's unit tests link only that folder's library and what it may use).

# mkimg_folder_library(NAME [USES folder...] [SOURCES_EXCLUDE file...]) in a folder's
# CMakeLists.txt: the library mkimg_<folder> from every .cpp in the folder and its sub-folders.
function(mkimg_folder_library folder)
  cmake_parse_arguments(ARG "" "" "USES;SOURCES_EXCLUDE" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  foreach(excluded ${ARG_SOURCES_EXCLUDE})
    list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/${excluded})
  endforeach()
  set(target mkimg_${folder})
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  set(libraries)
  foreach(used ${ARG_USES})
    list(APPEND libraries mkimg_${used})
  endforeach()
  target_link_libraries(${target} PUBLIC ${libraries})
  mkimg_check_includes(${folder} "${ARG_USES}" ${sources} ${headers})
  add_dependencies(${target} ${target}_layering)
endfunction()

# The build-time include check of `folder` (see above); also used for cli/'s executable.
function(mkimg_check_includes folder uses)
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/${folder}_layering.stamp)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DFOLDER=${folder} "-DUSES=${uses}" "-DFILES=${ARGN}"
            -DSTAMP=${stamp} -P ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
    DEPENDS ${ARGN} ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
    COMMENT "Checking the includes of ${folder}/ (it may use: ${folder} ${uses})" VERBATIM)
  add_custom_target(mkimg_${folder}_layering DEPENDS ${stamp})
endfunction()
