# Builds the project again with sanitizers, in a directory of the build
# tree, and runs its tests there: what issue 8 asks of the test command.
#   -DSC_SANITIZE=address,undefined  the whole C++ suite (and the tool, the
#                                    C API test) under ASan and UBSan;
#   -DSC_SANITIZE=thread             the concurrency tests under TSan.
# Under ASan the Python and Go packages' tests run too, with ASan's runtime
# preloaded (tests/CMakeLists.txt). Left out, and run in the main build: the
# install test (its consumer is not instrumented), the benchmark smoke runs,
# the examples in Python and Go, and the SVG render (a headless browser).
if(NOT SC_SANITIZE OR NOT SC_WORK_DIR OR NOT SC_SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSC_SANITIZE=... -DSC_SOURCE_DIR=... -DSC_WORK_DIR=... -P sanitizers.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)
set(flags "-fsanitize=${SC_SANITIZE} -fno-omit-frame-pointer")
if(SC_SANITIZE MATCHES "undefined")
  string(APPEND flags " -fno-sanitize-recover=undefined")
endif()
sc_run(${CMAKE_COMMAND} -S ${SC_SOURCE_DIR} -B ${SC_WORK_DIR} -G ${SC_GENERATOR}
    -DCMAKE_BUILD_TYPE=Debug
    "-DCMAKE_C_FLAGS=${flags}" "-DCMAKE_CXX_FLAGS=${flags}"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SC_SANITIZE}"
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=${SC_SANITIZE}"
    -DSC_BUILD_BENCHMARKS=ON -DSC_NESTED_CHECKS=OFF -DSC_SHARED_DIR=${SC_SHARED_DIR})
if(SC_SANITIZE STREQUAL "thread")
  sc_run(${CMAKE_COMMAND} --build ${SC_WORK_DIR} --target pipeline_test funnel_test
      capi_threads_test durable_test)
  set(select -R "Thread|Parallel")
else()
  sc_run(${CMAKE_COMMAND} --build ${SC_WORK_DIR})
  set(select -E "example_.*_(python|go)|bench_smoke|funnel_svg|install_and_find_package")
endif()
set(ENV{ASAN_OPTIONS} "detect_leaks=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
set(ENV{TSAN_OPTIONS} "halt_on_error=1")
# As many tests at once as the machine has cores. On CI's two cores this
# gains nothing measurable (the other checks keep both busy: 1,339 and
# 1,394 s from a clone against 1,358 and 1,360 s); on a larger machine the
# ASan suite, 490 s one test at a time, is the longest stretch of the test
# command.
cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
sc_run(${CMAKE_CTEST_COMMAND} --test-dir ${SC_WORK_DIR} ${select} --output-on-failure
    -j ${cores})
message(STATUS "sanitizer ${SC_SANITIZE}: all tests passed")
