# Included by ctest after the discovered integration tests (test/CMakeLists.txt): the
# NatsFeatures* suites need nats-server 2.10/2.11+ and carry the label `nats-2.11+` as well.
foreach(test IN LISTS jss_integration_tests_TESTS)
  if(test MATCHES "^NatsFeatures")
    set_tests_properties("${test}" PROPERTIES LABELS "integration;nats-2.11+")
  endif()
endforeach()
