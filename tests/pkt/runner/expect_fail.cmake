# cmake -DRUNNER=<pkt_runner> -DSCRIPT=<file.pkt> -P expect_fail.cmake
#
# Passes when pkt_runner fails on SCRIPT with exit status 1 and prints a
# report matching the REGEX of the script's first line, "// must fail: REGEX".
file(STRINGS ${SCRIPT} expect LIMIT_COUNT 1 REGEX "^// must fail: ")
if(NOT expect)
  message(FATAL_ERROR "${SCRIPT}: first line must be // must fail: REGEX")
endif()
string(REGEX REPLACE "^// must fail: " "" expect "${expect}")
execute_process(COMMAND ${RUNNER} ${SCRIPT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "pkt_runner exited with ${rc}, not 1:\n${out}${err}")
endif()
if(NOT "${out}${err}" MATCHES "${expect}")
  message(FATAL_ERROR "the report does not match '${expect}':\n${out}${err}")
endif()
