# Installs the built project into a scratch prefix, then configures, builds
# and runs examples/consumer against it: what a user of the package does.
file(REMOVE_RECURSE ${SC_WORK_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)
sc_run(${CMAKE_COMMAND} --install ${SC_BUILD_DIR} --prefix ${SC_WORK_DIR}/prefix)
# What the README says to read snapshots with, and the license, installed.
foreach(installed share/salescycle/proto/salescycle/v1/snapshot.proto
                  share/doc/salescycle/LICENSE share/doc/salescycle/CHANGELOG.md
                  share/man/man1/salescycle.1
                  share/bash-completion/completions/salescycle)
  if(NOT EXISTS ${SC_WORK_DIR}/prefix/${installed})
    message(FATAL_ERROR "cmake --install left out ${installed}")
  endif()
endforeach()
sc_run(${CMAKE_COMMAND} -S ${SC_SOURCE_DIR}/examples/consumer
    -B ${SC_WORK_DIR}/build -G ${SC_GENERATOR}
    -DCMAKE_PREFIX_PATH=${SC_WORK_DIR}/prefix)
sc_run(${CMAKE_COMMAND} --build ${SC_WORK_DIR}/build)
sc_run(${SC_WORK_DIR}/build/consumer ${SC_SOURCE_DIR}/examples/machines/b2b.textproto)
