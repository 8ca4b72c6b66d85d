# ctest driver for t5zero_mpi_abort_test: runs an mpiexec command that must end in failure.
# -DCOMMAND=a|b|c (the command line, "|"-separated), -DEXPECT_STDERR=regex, -DREJECT_OUTPUT=regex.
string(REPLACE "|" ";" command "${COMMAND}")
execute_process(COMMAND ${command} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
message("exit: ${code}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
if(NOT code MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the job did not end by itself (${code}): a rank's failure must end all")
endif()
if(code EQUAL 0)
  message(FATAL_ERROR "the job exited 0; expected a failure")
endif()
if(NOT err MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}'")
endif()
if(REJECT_OUTPUT AND "${out}${err}" MATCHES "${REJECT_OUTPUT}")
  message(FATAL_ERROR "the output matches '${REJECT_OUTPUT}': a rank went on after the abort")
endif()
