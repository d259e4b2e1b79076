# Installs the built project into a scratch prefix, then configures, builds
# and runs examples/consumer against it: what a user of the package does.
file(REMOVE_RECURSE ${SC_WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${SC_BUILD_DIR} --prefix ${SC_WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SC_SOURCE_DIR}/examples/consumer
    -B ${SC_WORK_DIR}/build -G ${SC_GENERATOR}
    -DCMAKE_PREFIX_PATH=${SC_WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${SC_WORK_DIR}/build)
run(${SC_WORK_DIR}/build/consumer ${SC_SOURCE_DIR}/examples/machines/b2b.textproto)
