# sc_run(COMMAND...): runs a command in SC_RUN_DIR (default: the current
# directory) and stops the script, naming the command, if it fails. Shared
# by the scripts that build or install the project again for a test.
function(sc_run)
  if(SC_RUN_DIR)
    set(dir WORKING_DIRECTORY ${SC_RUN_DIR})
  endif()
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc ${dir})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()
