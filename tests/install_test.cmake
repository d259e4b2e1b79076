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

# pkg-config (issue 16): a C program and a Go program outside the
# repository build against the installed prefix with nothing but
# PKG_CONFIG_PATH (a prefix of /usr/local needs not even that), and run with
# no LD_LIBRARY_PATH: the .pc files carry the run path.
set(ENV{PKG_CONFIG_PATH} ${SC_WORK_DIR}/prefix/lib/pkgconfig)
unset(ENV{LD_LIBRARY_PATH})
execute_process(COMMAND pkg-config --cflags --libs salescycle_c
                OUTPUT_VARIABLE pc_flags RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs salescycle_c failed")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
sc_run(${SC_CC} -std=c99 -o ${SC_WORK_DIR}/b2b_c ${SC_SOURCE_DIR}/examples/c/b2b.c ${pc_flags})
sc_run(${SC_WORK_DIR}/b2b_c ${SC_SOURCE_DIR}/examples/machines/b2b.textproto)
execute_process(COMMAND pkg-config --exists salescycle RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find salescycle (the C++ library)")
endif()
if(SC_GO)
  set(module ${SC_WORK_DIR}/go_consumer)
  file(MAKE_DIRECTORY ${module})
  file(COPY ${SC_SOURCE_DIR}/examples/go/main.go DESTINATION ${module})
  # How a program requires the module: the README's lines as written (From
  # C, Python and Go), the checkout's path in place of /path/to/salescycle.
  file(READ ${SC_SOURCE_DIR}/README.md readme)
  string(REGEX MATCH "```\n(require salescycle\\.dev/salescycle [^\n]*\n\nreplace [^\n]*\n)```"
         found "${readme}")
  if(NOT found)
    message(FATAL_ERROR "README.md shows no require/replace block for the Go module")
  endif()
  string(REPLACE "/path/to/salescycle" "${SC_SOURCE_DIR}" requirement "${CMAKE_MATCH_1}")
  file(WRITE ${module}/go.mod "module consumer\n\ngo 1.19\n\n${requirement}")
  set(ENV{GOCACHE} ${SC_WORK_DIR}/go/cache)
  set(ENV{GOPATH} ${SC_WORK_DIR}/go/path)
  set(ENV{GOPROXY} off)
  set(ENV{GOFLAGS} "-mod=mod -buildvcs=false")
  execute_process(COMMAND ${SC_GO} build -o ${SC_WORK_DIR}/b2b_go .
                  WORKING_DIRECTORY ${module} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "a Go program outside the repository did not build")
  endif()
  sc_run(${SC_WORK_DIR}/b2b_go ${SC_SOURCE_DIR}/examples/machines/b2b.textproto)
endif()
