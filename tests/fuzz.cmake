# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan in a build
# of their own, then runs each for SC_FUZZ_SECONDS on a copy of its seeds
# (tests/fuzz/seeds/NAME; what it finds stays in the build tree). Any crash,
# leak or sanitizer report fails the test, and libFuzzer leaves the input
# that caused it in the work directory (crash-*, leak-*).
if(NOT SC_WORK_DIR OR NOT SC_SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSC_SOURCE_DIR=... -DSC_WORK_DIR=... -P fuzz.cmake")
endif()
if(NOT SC_FUZZ_SECONDS)
  set(SC_FUZZ_SECONDS 15)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)
set(SC_RUN_DIR ${SC_WORK_DIR})
find_program(CLANG clang REQUIRED)
find_program(CLANGXX clang++ REQUIRED)
set(flags "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1")
file(MAKE_DIRECTORY ${SC_WORK_DIR})
sc_run(${CMAKE_COMMAND} -S ${SC_SOURCE_DIR} -B ${SC_WORK_DIR}/build -G ${SC_GENERATOR}
    -DCMAKE_C_COMPILER=${CLANG} -DCMAKE_CXX_COMPILER=${CLANGXX}
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
    "-DCMAKE_C_FLAGS=${flags}" "-DCMAKE_CXX_FLAGS=${flags}"
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined"
    -DSC_BUILD_FUZZERS=ON -DSC_BUILD_TESTS=OFF -DSC_BUILD_BENCHMARKS=OFF
    -DSC_BUILD_EXAMPLES=OFF -DSC_INSTALL=OFF -DSC_NESTED_CHECKS=OFF)
sc_run(${CMAKE_COMMAND} --build ${SC_WORK_DIR}/build --target
    machine_fuzzer snapshot_fuzzer events_fuzzer capi_fuzzer)
set(ENV{ASAN_OPTIONS} "detect_leaks=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
foreach(name machine snapshot events capi)
  set(corpus ${SC_WORK_DIR}/corpus/${name})
  file(MAKE_DIRECTORY ${corpus})
  sc_run(${SC_WORK_DIR}/build/tests/fuzz/${name}_fuzzer
      -max_total_time=${SC_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 ${corpus} ${SC_SOURCE_DIR}/tests/fuzz/seeds/${name})
  message(STATUS "fuzz ${name}: no crash, leak or sanitizer report in ${SC_FUZZ_SECONDS} s")
endforeach()
message(STATUS "fuzzing: all targets clean")
